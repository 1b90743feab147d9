/* Live analytics charts: top words, messages per second and mood, followed on a push
 * node like a room (/ws/charts/<scope>; docs/contracts.md, "Charts").
 *
 * The node streams JSON messages (WebSocket, or Server-Sent Events when WebSocket is
 * blocked): {"type": "words", "top": [[word, count], ...]}, {"type": "ticks",
 * "ticks": [[iso second, messages, mean sentiment], ...]}, {"type": "viewers",
 * "count": N}, and {"type": "gone"} when the chart's room was deleted. Words are shown as an HTML list with bars (real text for screen
 * readers); the two time series are uPlot line charts, the mood chart drawn around
 * its zero line.
 */
(function () {
  "use strict";
  var dataNode = document.getElementById("tm-charts");
  var section = document.querySelector("section.charts");
  if (!dataNode || !section) return;
  var config = JSON.parse(dataNode.textContent);
  var status = section.querySelector(".chart-status");
  var viewers = section.querySelector(".chart-viewers");
  var bars = section.querySelector(".word-bars");
  var empty = section.querySelector(".chart-empty");
  var summary = section.querySelector(".chart-summary");
  var WINDOW_SECONDS = 300;
  var ticks = {}; // unix second -> [messages, sentiment]

  var pushUrls = config.push_urls || [];
  if (!pushUrls.length) {
    status.textContent = "Live charts are not set up on this site.";
    return;
  }
  // Every push node holds every chart: start at a random one, move on when it fails.
  var node = Math.floor(Math.random() * pushUrls.length);
  var ended = false;

  // -- words ----------------------------------------------------------------------
  function showWords(top) {
    bars.textContent = "";
    var most = top.length ? top[0][1] : 1;
    top.slice(0, 10).forEach(function (pair) {
      var li = document.createElement("li");
      var word = document.createElement("span");
      word.className = "word";
      word.dir = "auto";
      word.textContent = pair[0];
      var bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = Math.max(4, Math.round(100 * pair[1] / most)) + "%";
      var count = document.createElement("span");
      count.className = "count";
      count.textContent = pair[1];
      li.append(word, bar, count);
      bars.append(li);
    });
    empty.hidden = top.length > 0;
  }

  // -- time series ------------------------------------------------------------------
  function plot(container, label, stroke, withZero) {
    var width = container.clientWidth || 320;
    var series = [{}, { label: label, stroke: stroke, width: 2, points: { show: false } }];
    if (withZero) series.push({ label: "zero", stroke: "#9aa3ad", width: 1, dash: [4, 4],
                                points: { show: false } });
    var data = withZero ? [[], [], []] : [[], []];
    return new window.uPlot({
      width: width, height: 180, series: series, legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: withZero ? { range: [-5, 5] } : { min: 0 } },
      axes: [{ stroke: "#4b5563" }, { stroke: "#4b5563", size: 40 }]
    }, data, container);
  }

  var volumeChart = window.uPlot ? plot(section.querySelector(".chart-volume"),
                                       "messages", "#0f766e", false) : null;
  var moodChart = window.uPlot ? plot(section.querySelector(".chart-sentiment"),
                                     "mood", "#7c3aed", true) : null;

  function addTicks(list) {
    list.forEach(function (t) {
      var second = Math.floor(Date.parse(t[0]) / 1000);
      if (!isNaN(second)) ticks[second] = [t[1], t[2]];
    });
    redraw();
  }

  function redraw() {
    var now = Math.floor(Date.now() / 1000);
    var xs = [], volume = [], mood = [], zero = [];
    for (var s = now - WINDOW_SECONDS; s <= now; s++) {
      var t = ticks[s];
      xs.push(s);
      volume.push(t ? t[0] : 0);
      mood.push(t ? t[1] : null);
      zero.push(0);
      if (!t) delete ticks[s];
    }
    Object.keys(ticks).forEach(function (k) { if (k < now - WINDOW_SECONDS) delete ticks[k]; });
    if (volumeChart) volumeChart.setData([xs, volume]);
    if (moodChart) moodChart.setData([xs, mood, zero]);
    var recent = mood.slice(-30).filter(function (v) { return v !== null; });
    if (recent.length) {
      var mean = recent.reduce(function (a, b) { return a + b; }, 0) / recent.length;
      summary.textContent = "Mood over the last 30 seconds: " + mean.toFixed(1) +
        (mean > 0.5 ? " (positive)" : mean < -0.5 ? " (negative)" : " (neutral)");
    }
  }
  setInterval(redraw, 1000); // the x axis moves on even when nobody posts

  window.addEventListener("resize", function () {
    [[volumeChart, ".chart-volume"], [moodChart, ".chart-sentiment"]].forEach(function (p) {
      if (p[0]) p[0].setSize({ width: section.querySelector(p[1]).clientWidth || 320, height: 180 });
    });
  });

  // -- the stream -----------------------------------------------------------------------
  function receive(text) {
    var message;
    try { message = JSON.parse(text); } catch (e) { return; }
    if (message.type === "words") showWords(message.top || []);
    else if (message.type === "ticks") addTicks(message.ticks || []);
    else if (message.type === "viewers") {
      viewers.textContent = message.count + (message.count === 1 ? " viewer" : " viewers");
    } else if (message.type === "gone") {
      ended = true;
      status.textContent = "This room has ended: its charts are gone.";
    }
  }

  var attempt = 0;
  var useSse = typeof WebSocket === "undefined";
  var failuresBeforeOpen = 0;
  // A room's charts need a moderator's follow ticket, renewed from tm when it is old.
  var tickets = config.follow && window.TMLive ? new window.TMLive.TicketHolder(
    config.follow, window.TMLive.ticketFrom(config.ticket_api)) : null;

  function path() {
    var scope = "/charts/" + encodeURIComponent(config.scope);
    return tickets ? scope + "?ticket=" + encodeURIComponent(tickets.ticket) : scope;
  }

  function retry() {
    if (ended) return;
    node = (node + 1) % pushUrls.length;
    status.textContent = "Live charts lost their connection. Reconnecting…";
    setTimeout(connect, window.TMLive ? window.TMLive.backoff(attempt++) : 2000);
  }

  function live() {
    attempt = 0;
    failuresBeforeOpen = 0;
    status.textContent = "Live";
  }

  function connect() {
    if (tickets && !tickets.fresh()) {
      tickets.get().then(open, retry);
      return;
    }
    open();
  }

  function open() {
    var base = pushUrls[node].replace(/\/+$/, "");
    if (useSse) {
      var source = new EventSource(base + "/sse" + path());
      var sseOpened = false;
      source.onopen = function () { sseOpened = true; live(); };
      source.onmessage = function (m) { receive(m.data); };
      source.onerror = function () {
        source.close();
        if (!sseOpened && tickets) tickets.failed();
        retry();
      };
      return;
    }
    var opened = false;
    var socket = new WebSocket(base.replace(/^http/, "ws") + "/ws" + path());
    socket.onopen = function () { opened = true; live(); };
    socket.onmessage = function (m) { receive(m.data); };
    socket.onclose = function () {
      if (!opened && tickets) tickets.failed();
      if (!opened && ++failuresBeforeOpen >= 2) useSse = true;
      retry();
    };
  }
  connect();
})();

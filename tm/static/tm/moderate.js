/* The moderation page keeps its approval queue live: posts the room holds appear as
 * they are held (with Approve and Reject forms, cloned from a server-rendered template
 * that carries the CSRF token), and leave when they are approved or rejected, from
 * here or from another tab. The rest of the page is not redrawn: a teacher halfway
 * through the settings form must not lose what they typed; new visible messages are
 * announced with a link that reloads the page.
 *
 * With a push node the page follows the room as a moderator (held posts arrive too);
 * after missed events, and without a push node every POLL_MS, it reads the queue from
 * GET /api/v1/rooms/<room>/pending and redraws it from that answer.
 *
 * The People card is read again (GET .../participants) shortly after the room's
 * presence count changes, i.e. when someone joins or leaves, and redrawn only when the
 * list differs, so a keyboard user's place is kept otherwise.
 */
(function () {
  "use strict";
  var POLL_MS = 10000;
  var dataNode = document.getElementById("tm-page");
  var queue = document.getElementById("queue");
  var template = document.getElementById("queue-item-template");
  if (!dataNode || !queue || !template) return;
  var page = JSON.parse(dataNode.textContent);

  // The server wrote the activity log's times in UTC; show them in the teacher's own.
  document.querySelectorAll("#audit time[datetime]").forEach(function (node) {
    var when = new Date(node.getAttribute("datetime"));
    if (isNaN(when)) return;
    node.textContent = when.toLocaleString([], { month: "short", day: "numeric",
                                                 hour: "2-digit", minute: "2-digit" });
  });
  var count = document.getElementById("queue-count");
  var empty = document.getElementById("queue-empty");
  var notice = document.getElementById("live-notice");
  var noticeText = document.getElementById("live-notice-text");
  var posted = 0;
  var people = document.getElementById("people");
  var personTemplate = document.getElementById("person-template");
  var peopleCount = document.getElementById("people-count");
  var peopleEmpty = document.getElementById("people-empty");
  var peopleShown = "";

  function queued(id) {
    return queue.querySelector('li[data-id="' + String(Number(id)) + '"]');
  }

  function refreshCount() {
    var items = queue.querySelectorAll("li.queue-item").length;
    count.textContent = String(items);
    queue.hidden = items === 0;
    empty.hidden = items !== 0;
  }

  /* A copy of a server-rendered <template> item whose action forms (CSRF token
   * included) act on `id` (the hidden input `field`), their buttons named for `nickname`. */
  function itemFor(source, field, id, nickname) {
    var item = source.content.firstElementChild.cloneNode(true);
    var value = String(Number(id));
    item.setAttribute("data-id", value);
    item.querySelectorAll('input[name="' + field + '"]').forEach(function (input) {
      input.value = value;
    });
    item.querySelectorAll("button").forEach(function (button) {
      button.setAttribute("aria-label", button.textContent + " " + nickname);
    });
    return item;
  }

  /* A held post joins the queue in seq order: a push and a reread of the queue (after
   * missed events) may bring posts in either order. */
  function hold(message, seq) {
    if (queued(message.id)) return;
    var item = itemFor(template, "message", message.id, message.nickname);
    item.setAttribute("data-seq", String(Number(seq)));
    item.querySelector(".msg-nick").textContent = message.nickname;
    // bleach output from the server, never raw user text (as room.js renders it).
    item.querySelector(".msg-text").innerHTML = message.html;
    item.querySelector(".screened").hidden = message.held_for !== "screening";
    item.querySelector(".reported").hidden = message.held_for !== "reports";
    item.querySelector(".teacher-held").hidden = message.held_for !== "teacher";
    var later = Array.prototype.find.call(queue.querySelectorAll("li.queue-item"),
      function (other) { return Number(other.getAttribute("data-seq")) > Number(seq); });
    queue.insertBefore(item, later || null);
    refreshCount();
  }

  function release(id) {
    var item = queued(id);
    if (!item) return false;
    item.remove();
    refreshCount();
    return true;
  }

  function announce() {
    noticeText.textContent = posted + (posted === 1 ? " new message." : " new messages.");
    notice.hidden = false;
  }

  function api(path) {
    return fetch(page.api + path, { headers: { "Accept": "application/json" },
                                    credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  /* The queue as the server has it now: add what is missing, drop what is gone. */
  function reloadQueue() {
    return api("/pending").then(function (answer) {
      var waiting = {};
      answer.messages.forEach(function (message) {
        waiting[message.id] = true;
        hold(message, message.seq);
      });
      queue.querySelectorAll("li.queue-item").forEach(function (item) {
        if (!waiting[item.getAttribute("data-id")]) item.remove();
      });
      refreshCount();
    });
  }

  function personNode(person) {
    // Only the form that applies stays: Unmute for a muted person, Mute otherwise.
    var item = itemFor(personTemplate, "participant", person.id, person.nickname);
    item.querySelector(person.muted ? ".person-mute" : ".person-unmute").remove();
    item.querySelector(".person-nick").textContent = person.nickname;
    if (person.real_name) {
      item.querySelector(".real-name").textContent = "(" + person.real_name + ")";
      item.querySelector(".person-real").hidden = false;
    }
    item.querySelector(".person-muted").hidden = !person.muted;
    return item;
  }

  function reloadPeople() {
    if (!people || !personTemplate) return Promise.resolve();
    return api("/participants").then(function (answer) {
      var list = answer.participants;
      var shown = JSON.stringify(list);
      if (shown === peopleShown) return;
      peopleShown = shown;
      var nodes = list.map(personNode);
      people.replaceChildren.apply(people, nodes);
      peopleCount.textContent = String(list.length);
      people.hidden = list.length === 0;
      peopleEmpty.hidden = list.length !== 0;
    });
  }

  /* `reload`, at most once a second however often this is called: joins and reports
     come in bursts (a class arriving, a class reacting to one post). */
  function soon(reload) {
    var timer = null;
    return function () {
      if (timer) return;
      timer = window.setTimeout(function () {
        timer = null;
        reload().catch(function () {});
      }, 1000);
    };
  }

  var peopleSoon = soon(reloadPeople);

  // -- reported posts: redrawn from the server's list (counts, context, hidden) ------
  var reportsList = document.getElementById("reports");
  var reportTemplate = document.getElementById("report-template");
  var reportsCount = document.getElementById("reports-count");
  var reportsEmpty = document.getElementById("reports-empty");

  function contextLine(message, own) {
    var li = document.createElement("li");
    li.dir = "auto";
    if (own) li.className = "report-post";
    var nick = document.createElement("span");
    nick.className = "msg-nick";
    nick.textContent = message.nickname;
    li.append(nick, " " + message.text); // text, never HTML
    return li;
  }

  function reportNode(entry) {
    var item = itemFor(reportTemplate, "message", entry.message.id, entry.message.nickname);
    var context = item.querySelector(".report-context");
    entry.before.forEach(function (m) { context.append(contextLine(m, false)); });
    context.append(contextLine(entry.message, true));
    entry.after.forEach(function (m) { context.append(contextLine(m, false)); });
    item.querySelector(".report-count").textContent =
      entry.reports + (entry.reports === 1 ? " report" : " reports");
    item.querySelector(".report-hidden").hidden = !entry.hidden;
    item.querySelector(".incident-link").href = page.api + "/messages/" +
      String(Number(entry.message.id)) + "/incident?format=txt";
    return item;
  }

  function reloadReports() {
    if (!reportsList || !reportTemplate) return Promise.resolve();
    return api("/reports").then(function (answer) {
      reportsList.replaceChildren.apply(reportsList, answer.reports.map(reportNode));
      reportsCount.textContent = String(answer.reports.length);
      reportsList.hidden = answer.reports.length === 0;
      reportsEmpty.hidden = answer.reports.length !== 0;
    });
  }

  var reportsSoon = soon(reloadReports);

  function roomSeq() {
    return api("").then(function (room) { return room.seq; });
  }

  function onEvent(event) {
    var data = event.data || {};
    if (event.type === "message.pending") {
      hold(data, event.seq);
    } else if (event.type === "message.created") {
      // An approved post leaves the queue; any other new post is news for the list.
      if (!release(data.id)) { posted += 1; announce(); }
    } else if (event.type === "message.deleted") {
      release(data.id);
    }
    // A report, or a decision on a post that may have been reported.
    if (event.type === "message.reported" ||
        (reportsList && reportsList.querySelector('li[data-id="' + String(Number(data.id)) + '"]'))) {
      reportsSoon();
    }
  }

  if (!window.TMLive || !page.push_urls || !page.push_urls.length) {
    window.setInterval(function () {
      reloadQueue().catch(function () {});
      reloadPeople().catch(function () {});
      reloadReports().catch(function () {});
    }, POLL_MS);
    return;
  }
  new window.TMLive.Follower({
    pushUrls: page.push_urls,
    room: page.room,
    after: page.seq,
    follow: page.follow,
    renewTicket: window.TMLive.ticketFrom(page.api + "/ticket"),
    onGone: function () { window.location.reload(); },
    onEvent: onEvent,
    onOther: function (event) {
      if (event.type === "presence") peopleSoon();
    },
    onStatus: function () {},
    // Missed events: the queue is read again whole; other news is announced.
    fill: function (after) {
      return Promise.all([roomSeq(), reloadQueue(), reloadReports()]).then(function (answers) {
        var seq = answers[0];
        if (seq > after) { posted = Math.max(posted, 1); announce(); }
        return seq;
      });
    },
    checkSeq: roomSeq
  }).start();
})();

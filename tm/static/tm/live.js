/* tm live: follows a room's events from the push nodes, in seq order, exactly once.
 *
 * Plain JavaScript, no build step; loads in the browser (window.TMLive) and in Node
 * (module.exports) so the ordering logic has unit tests (tests/js/).
 *
 * - SeqTracker is the pure core: given the last seq applied, it says whether an
 *   incoming event is applied, ignored (a duplicate) or held while the gap before it
 *   is filled from the history API.
 * - Follower owns the connection: WebSocket first, Server-Sent Events when WebSocket
 *   fails, reconnects with back-off and jitter, resumes with ?after=<last seq>, and
 *   asks its owner to fill from history on a gap, a `resync`, or a periodic check
 *   that finds the room ahead (an event a dead reflektor swallowed).
 * - TicketHolder keeps the follow ticket a push node asks for (tm signs it; it lasts
 *   minutes) and gets a fresh one from tm before a (re)connect that needs it.
 */
(function (exports) {
  "use strict";

  var SSE_RETRY_WEBSOCKET_MS = 5 * 60 * 1000;

  function SeqTracker(lastSeq) {
    this.last = lastSeq || 0;
    this.held = []; // events after a gap, or during a fill, waiting for the fill
    this.filling = false; // a history read is under way (set by the Follower)
  }

  /* What to do with `event`: "apply" (and it is now the last), "ignore", "hold", or
   * "other" for events without a seq (presence, resync, reconnect). */
  SeqTracker.prototype.offer = function (event) {
    if (typeof event.seq !== "number") return "other";
    if (event.seq <= this.last) return "ignore";
    // While history is being read, even the next event waits: the history answer may
    // have been written before it (a message, then its deletion, both pushed while the
    // answer was on its way), and applied after the event it would undo it.
    if (event.seq === this.last + 1 && this.held.length === 0 && !this.filling) {
      this.last = event.seq;
      return "apply";
    }
    this.held.push(event);
    return "hold";
  };

  /* History has been read up to `seq`: returns the held events that now apply, in
   * order. Events still past a gap stay held (the caller fills again). */
  SeqTracker.prototype.filled = function (seq) {
    this.filling = false;
    if (seq > this.last) this.last = seq;
    var self = this;
    this.held.sort(function (a, b) { return a.seq - b.seq; });
    var ready = [];
    var rest = [];
    this.held.forEach(function (event) {
      if (event.seq <= self.last) return; // the fill already covered it
      if (rest.length === 0 && event.seq === self.last + 1) {
        self.last = event.seq;
        ready.push(event);
      } else if (!rest.some(function (e) { return e.seq === event.seq; })) {
        rest.push(event);
      }
    });
    this.held = rest;
    return ready;
  };

  SeqTracker.prototype.hasGap = function () {
    return this.held.length > 0;
  };

  /* A follow ticket, {ticket, expires_in (seconds)} as tm hands it out, and `renew`, a
   * function returning a Promise of a fresh one (rejected with {gone: true} when the
   * room no longer exists). Age is counted on this page's clock from when the ticket
   * arrived, so a browser clock that is off does not matter. */
  var TICKET_MARGIN_MS = 60 * 1000; // renewed this long before it runs out
  var TICKET_SUSPECT_MS = 30 * 1000; // after a failed open, renewed if older than this

  function TicketHolder(follow, renew, now) {
    this.renew = renew;
    this.now = now || Date.now;
    this.ticket = null;
    this.suspect = false;
    if (follow) this.set(follow);
  }

  TicketHolder.prototype.set = function (follow) {
    this.ticket = follow.ticket;
    this.lifeMs = (follow.expires_in || 0) * 1000;
    this.at = this.now();
    this.suspect = false;
  };

  TicketHolder.prototype.fresh = function () {
    if (!this.ticket) return false;
    var age = this.now() - this.at;
    if (this.suspect && age > TICKET_SUSPECT_MS) return false;
    return age < this.lifeMs - TICKET_MARGIN_MS;
  };

  /* A connection with this ticket failed before it opened: maybe the ticket ran out
   * (the node's 403 is not visible to a page), maybe the node is down. */
  TicketHolder.prototype.failed = function () { this.suspect = true; };

  /* Promise of a ticket fit to connect with. */
  TicketHolder.prototype.get = function () {
    var self = this;
    if (this.fresh()) return Promise.resolve(this.ticket);
    if (!this.renew) return Promise.reject(new Error("no way to renew the ticket"));
    return this.renew().then(function (follow) {
      self.set(follow);
      return self.ticket;
    });
  };

  /* A TicketHolder's `renew` that asks tm: POST `url` with the page's own credentials
   * (its cookies, and `headers()` for the embed's bearer token), rejected with
   * {gone: true} when the room no longer exists (404, 410). */
  function ticketFrom(url, headers) {
    return function () {
      var sent = { "Accept": "application/json" };
      var extra = headers ? headers() : {};
      Object.keys(extra).forEach(function (name) { sent[name] = extra[name]; });
      return fetch(url, { method: "POST", headers: sent, credentials: "same-origin" })
        .then(function (response) {
          if (response.ok) return response.json();
          var error = new Error("ticket " + response.status);
          error.gone = response.status === 404 || response.status === 410;
          throw error;
        });
    };
  }

  function backoff(attempt, random) {
    var base = Math.min(30000, 500 * Math.pow(2, attempt));
    return Math.round(base * (0.5 + (random || Math.random)() / 2));
  }

  /* options: pushUrls, room, after, follow (the page's ticket, see TicketHolder),
   * handlers:
   *   renewTicket() -> Promise<{ticket, expires_in}>   a fresh ticket from tm
   *   onGone()                the room was deleted or expired: stop showing it live
   *   onEvent(event)          apply one event (seq order guaranteed)
   *   onOther(event)          presence and friends
   *   fill(after) -> Promise<seq reached>   read history after `after`, apply it
   *   checkSeq() -> Promise<room's current seq>
   *   onStatus(state)         "live" | "connecting" | "offline"
   */
  function Follower(options) {
    this.options = options;
    this.tracker = new SeqTracker(options.after);
    this.tickets = new TicketHolder(options.follow, options.renewTicket);
    this.attempt = 0;
    this.socket = null;
    this.source = null;
    this.filling = null;
    this.stopped = false;
    this.useSse = false;
    this.sseSince = 0;
    this.wsFailuresBeforeOpen = 0;
    // Any node serves any room: start at a random one (spreading the load) and move to
    // the next whenever one cannot be reached or says it is going away.
    this.urls = options.pushUrls.map(function (url) { return url.replace(/\/+$/, ""); });
    this.urlIndex = Math.floor(Math.random() * this.urls.length);
    this.base = this.urls[this.urlIndex];
  }

  Follower.prototype.nextNode = function () {
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.base = this.urls[this.urlIndex];
  };

  Follower.prototype.start = function () {
    var self = this;
    this.connect();
    // A periodic look at the room's seq catches an event lost after a reflektor took it.
    this.checkTimer = setInterval(function () { self.check(); }, this.options.checkMs || 30000);
    if (typeof document !== "undefined") {
      document.addEventListener("visibilitychange", function () {
        if (!document.hidden) self.check();
      });
    }
    if (typeof window !== "undefined") {
      window.addEventListener("online", function () { self.reconnectSoon(0); });
    }
  };

  Follower.prototype.query = function () {
    return "?ticket=" + encodeURIComponent(this.tickets.ticket || "") +
      "&after=" + this.tracker.last;
  };

  Follower.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    this.options.onStatus("connecting");
    if (this.tickets.fresh()) { this.open(); return; }
    this.tickets.get().then(function () { self.open(); }, function (error) {
      if (error && error.gone) self.gone();
      else self.reconnectSoon();
    });
  };

  /* The room is gone (tm deleted it, or it expired): nothing more will come. */
  Follower.prototype.gone = function () {
    this.stop();
    if (this.options.onGone) this.options.onGone();
  };

  Follower.prototype.open = function () {
    if (this.stopped) return;
    // SSE is a fallback, not a verdict: a node restart also fails two WebSocket opens,
    // so after a while on SSE the next reconnect tries WebSocket again.
    if (this.useSse && Date.now() - this.sseSince > SSE_RETRY_WEBSOCKET_MS) {
      this.useSse = false;
      this.wsFailuresBeforeOpen = 0;
    }
    if (this.useSse || typeof WebSocket === "undefined") this.connectSse();
    else this.connectWebSocket();
  };

  Follower.prototype.connectWebSocket = function () {
    var self = this;
    var opened = false;
    var url = this.base.replace(/^http/, "ws") + "/ws/" + encodeURIComponent(this.options.room) +
      this.query();
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      this.useSse = true;
      this.sseSince = Date.now();
      this.reconnectSoon(0);
      return;
    }
    this.socket = socket;
    socket.onopen = function () {
      opened = true;
      self.wsFailuresBeforeOpen = 0;
      self.attempt = 0;
      self.options.onStatus("live");
    };
    socket.onmessage = function (message) { self.receive(message.data); };
    socket.onclose = function () {
      if (self.socket !== socket) return;
      self.socket = null;
      if (!opened) {
        self.tickets.failed();
        self.nextNode(); // this one is down or unreachable: try another
        // Blocked by a proxy or firewall: after two tries, use Server-Sent Events.
        self.wsFailuresBeforeOpen += 1;
        if (self.wsFailuresBeforeOpen >= 2) {
          self.useSse = true;
          self.sseSince = Date.now();
        }
      }
      self.reconnectSoon();
    };
  };

  Follower.prototype.connectSse = function () {
    var self = this;
    var url = this.base + "/sse/" + encodeURIComponent(this.options.room) + this.query();
    var source = new EventSource(url);
    var opened = false;
    this.source = source;
    source.onopen = function () {
      opened = true;
      self.attempt = 0;
      self.options.onStatus("live");
    };
    source.onmessage = function (message) { self.receive(message.data); };
    source.onerror = function () {
      // EventSource would retry by itself, but with a stale ?after; reconnect ourselves.
      source.close();
      if (self.source !== source) return;
      self.source = null;
      if (!opened) {
        self.tickets.failed();
        self.nextNode();
      }
      self.reconnectSoon();
    };
  };

  Follower.prototype.disconnect = function () {
    var socket = this.socket;
    var source = this.source;
    this.socket = null;
    this.source = null;
    if (socket) socket.close();
    if (source) source.close();
  };

  Follower.prototype.reconnectSoon = function (delay) {
    var self = this;
    if (this.stopped) return;
    this.disconnect();
    this.options.onStatus("offline");
    clearTimeout(this.reconnectTimer);
    var wait = delay === undefined ? backoff(this.attempt++) : delay;
    this.reconnectTimer = setTimeout(function () { self.connect(); }, wait);
  };

  Follower.prototype.receive = function (text) {
    var event;
    try { event = JSON.parse(text); } catch (e) { return; }
    if (event.type === "resync") { this.fill(); return; }
    if (event.type === "gone") { this.gone(); return; }
    if (event.type === "reconnect") {
      this.nextNode(); // this node is shutting down
      this.reconnectSoon(typeof event.delay_ms === "number" ? event.delay_ms : undefined);
      return;
    }
    var verdict = this.tracker.offer(event);
    if (verdict === "apply") this.options.onEvent(event);
    else if (verdict === "hold") this.fill();
    else if (verdict === "other") this.options.onOther(event);
  };

  /* Read history after the last applied seq, then apply what was held. One at a time. */
  Follower.prototype.fill = function () {
    var self = this;
    if (this.filling) return this.filling;
    this.tracker.filling = true; // until filled(): what arrives meanwhile is held
    this.filling = this.options.fill(this.tracker.last).then(function (seq) {
      self.filling = null;
      self.tracker.filled(seq).forEach(function (event) { self.options.onEvent(event); });
      if (self.tracker.hasGap()) return self.fill();
    }, function () {
      self.filling = null;
      setTimeout(function () { self.fill(); }, backoff(1));
    });
    return this.filling;
  };

  Follower.prototype.check = function () {
    var self = this;
    return this.options.checkSeq().then(function (seq) {
      if (seq > self.tracker.last) return self.fill();
    }, function () { /* offline: the reconnect logic handles it */ });
  };

  Follower.prototype.stop = function () {
    this.stopped = true;
    clearInterval(this.checkTimer);
    clearTimeout(this.reconnectTimer);
    this.disconnect();
  };

  exports.SeqTracker = SeqTracker;
  exports.TicketHolder = TicketHolder;
  exports.ticketFrom = ticketFrom;
  exports.Follower = Follower;
  exports.backoff = backoff;
})(typeof module !== "undefined" && module.exports ? module.exports : (window.TMLive = {}));

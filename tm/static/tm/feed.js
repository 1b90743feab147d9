/* tm feed: a page's copy of one room, kept whole by the history API and the push nodes.
 *
 * Plain JavaScript, no DOM and no build step; loads in the browser (window.TMFeed,
 * after live.js) and in Node (module.exports). The page gives it a view, the part that
 * draws; the feed decides what the view shows. room.js draws it into the page; the
 * end-to-end tests run this same file in Node with a view that records
 * (testkit/pages/), so what they prove of the feed holds for the pages.
 *
 * A view has:
 *   add(messages)        show these messages (each with its seq) unless already shown
 *   remove(ids)          stop showing these
 *   room(room)           the room's topic and state changed (room.updated, or a read)
 *   pending(message)     a post was held for approval (moderators only get these)
 *   presence(count)      how many people the push nodes count in the room
 *   status(state)        "live" | "connecting" | "offline"
 *   gone()               the room was deleted or has expired: nothing more will come
 *
 * The page's data (`page`, as tm renders it): api (the room's API URL), room, seq (what
 * the page shows is the room up to it), push_urls, key (a share link's), follow (a
 * follow ticket, if the page may follow). `credentials()` gives the headers the page
 * reads with: the embed's bearer token, or the CSRF token that goes with its cookie.
 */
(function (exports) {
  "use strict";

  var HISTORY_PAGE = 500; // messages per history read
  var POLL_MS = 2000; // without a push node: how often the history is read
  var MAX_POLL_BACKOFF_MS = 30000;

  function RoomFeed(page, view, credentials) {
    this.page = page;
    this.view = view;
    this.credentials = credentials || function () { return {}; };
    this.pageSize = HISTORY_PAGE;
    this.seq = page.seq || 0; // the history shown reaches this seq (the poll's cursor)
    // The room's seq when the topic and state shown were read or pushed. A room read
    // can be answered after a newer room.updated event; applied then, it would bring
    // back the old topic or state until the next change.
    this.roomSeq = page.seq || 0;
    this.pollFailures = 0;
  }

  /* tm's room API, `path` after the room's URL: a Promise of {status, body}. */
  RoomFeed.prototype.api = function (method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var extra = this.credentials();
    Object.keys(extra).forEach(function (name) { headers[name] = extra[name]; });
    return fetch(this.page.api + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (response) {
      if (response.status === 204) return { status: 204, body: null };
      return response.json().then(
        function (json) { return { status: response.status, body: json }; },
        function () { return { status: response.status, body: null }; }
      );
    });
  };

  RoomFeed.prototype.keyQuery = function (separator) {
    return this.page.key ? separator + "key=" + encodeURIComponent(this.page.key) : "";
  };

  /* The one history reader: every page after `after`, applied (deletions first), and
     the room re-read when anything happened since (a room.updated may be among it);
     a Promise of the seq it reached. The poll uses it when no push node is configured,
     the push path to fill a gap or catch up after a resync. */
  RoomFeed.prototype.readHistory = function (after) {
    var self = this;
    var path = "/messages?after=" + after + "&limit=" + this.pageSize + this.keyQuery("&");
    return this.api("GET", path).then(function (r) {
      if (r.status === 410) { self.view.gone(); return after; }
      if (r.status !== 200 || !r.body) throw new Error("history " + r.status);
      if (r.body.deleted && r.body.deleted.length) self.view.remove(r.body.deleted);
      if (r.body.messages.length) self.view.add(r.body.messages);
      if (r.body.has_more) return self.readHistory(r.body.seq);
      if (r.body.seq > after) self.refreshRoom();
      return r.body.seq;
    });
  };

  /* Read what happened after the history shown; a Promise of the seq reached. */
  RoomFeed.prototype.catchUp = function () {
    var self = this;
    return this.readHistory(this.seq).then(function (seq) {
      self.seq = Math.max(self.seq, seq);
      return self.seq;
    });
  };

  /* A page that could show nothing at first (a password room's embed before the
     student joined) reads the whole history. */
  RoomFeed.prototype.load = function () {
    this.seq = 0;
    return this.catchUp();
  };

  /* The room read again: its seq, after applying its topic and state. */
  RoomFeed.prototype.refreshRoom = function () {
    var self = this;
    return this.api("GET", this.keyQuery("?")).then(function (r) {
      if (r.status !== 200 || !r.body) throw new Error("room " + r.status);
      self.applyRoom(r.body, r.body.seq);
      return r.body.seq;
    });
  };

  RoomFeed.prototype.applyRoom = function (room, seq) {
    if (seq < this.roomSeq) return;
    this.roomSeq = seq;
    this.view.room(room);
  };

  /* One pushed event, in seq order (live.js guarantees it). */
  RoomFeed.prototype.applyEvent = function (event) {
    var data = event.data || {};
    if (event.type === "message.created") {
      var message = {};
      Object.keys(data).forEach(function (name) { message[name] = data[name]; });
      message.seq = event.seq;
      message.by_teacher = data.by_teacher === true;
      this.view.add([message]);
    } else if (event.type === "message.deleted") {
      this.view.remove([data.id]);
    } else if (event.type === "room.updated") {
      this.applyRoom(data, event.seq);
    } else if (event.type === "message.pending") {
      this.view.pending(data);
    }
    // "skip" (a held post this page may not see) only advances the seq.
  };

  /* Keep the room live from `seq` on: through the push nodes when the page has some
     (live.js), with `ticket` ({ticket, expires_in, role}, the page's or the embed's
     join answer's) or one asked of tm; otherwise by reading the history every few
     seconds. Returns the Follower, or null when polling. */
  RoomFeed.prototype.follow = function (ticket) {
    var live = typeof window !== "undefined" ? window.TMLive : null;
    var page = this.page;
    var self = this;
    if (!page.push_urls || !page.push_urls.length || !live) {
      this.schedulePoll();
      return null;
    }
    var role = (ticket || {}).role || "";
    var follower = new live.Follower({
      pushUrls: page.push_urls,
      room: page.room,
      after: this.seq,
      follow: ticket,
      // A fresh ticket, with whatever credential this page reads with (the cookie, the
      // embed's bearer token, the share link's key), for the role the page started
      // with and no more: the teacher's projector stays a viewer.
      renewTicket: live.ticketFrom(
        page.api + "/ticket?role=" + encodeURIComponent(role) + this.keyQuery("&"),
        function () { return self.credentials(); }),
      onGone: function () { self.view.gone(); },
      onEvent: function (event) { self.applyEvent(event); },
      onOther: function (event) {
        if (event.type === "presence") self.view.presence(event.count);
      },
      onStatus: function (state) { self.view.status(state); },
      fill: function (after) { return self.readHistory(after); },
      checkSeq: function () { return self.refreshRoom(); }
    });
    follower.start();
    return follower;
  };

  /* Without a push node: read the history every POLL_MS, backing off while it fails. */
  RoomFeed.prototype.schedulePoll = function () {
    var self = this;
    var delay = this.pollFailures === 0 ? POLL_MS :
      Math.min(MAX_POLL_BACKOFF_MS, POLL_MS * Math.pow(2, this.pollFailures)) *
        (0.5 + Math.random() / 2);
    setTimeout(function () {
      var hidden = typeof document !== "undefined" && document.hidden;
      if (hidden && self.pollFailures === 0) { self.schedulePoll(); return; }
      self.catchUp().then(function () {
        self.pollFailures = 0;
        self.view.status("live");
      }, function () {
        self.pollFailures += 1;
        self.view.status("offline");
      }).then(function () { self.schedulePoll(); });
    }, delay);
  };

  exports.RoomFeed = RoomFeed;
})(typeof module !== "undefined" && module.exports ? module.exports : (window.TMFeed = {}));

/* The moderation page listens to its room (as a moderator, so held posts arrive too)
 * and says when something new is there, with a link to show it. It does not redraw
 * by itself: a teacher halfway through the settings form must not lose what they typed.
 */
(function () {
  "use strict";
  var dataNode = document.getElementById("tm-page");
  if (!dataNode || !window.TMLive) return;
  var page = JSON.parse(dataNode.textContent);
  if (!page.push_urls || !page.push_urls.length) return;
  var notice = document.getElementById("live-notice");
  var text = document.getElementById("live-notice-text");
  var held = 0;
  var posted = 0;

  function show() {
    var parts = [];
    if (held) parts.push(held + (held === 1 ? " new post waits" : " new posts wait") + " for approval.");
    if (posted) parts.push(posted + (posted === 1 ? " new message." : " new messages."));
    text.textContent = parts.join(" ");
    notice.hidden = parts.length === 0;
  }

  function roomSeq() {
    return fetch(page.api, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (room) { return room.seq; });
  }

  new window.TMLive.Follower({
    pushUrls: page.push_urls,
    room: page.room,
    after: page.seq,
    token: page.push_token,
    onEvent: function (event) {
      if (event.type === "message.pending") held += 1;
      else if (event.type === "message.created") posted += 1;
      else return;
      show();
    },
    onOther: function () {},
    onStatus: function () {},
    // Missed events are not redrawn here: note that there is news and move on.
    fill: function () {
      return roomSeq().then(function (seq) {
        if (seq > page.seq) { posted = Math.max(posted, 1); show(); }
        return seq;
      });
    },
    checkSeq: roomSeq
  }).start();
})();

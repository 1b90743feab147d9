/* tm room page: draws the room live and posts without a reload.
 *
 * Plain JavaScript, no build step. The server renders the page first (it works
 * without this file); feed.js then keeps the page's copy of the room (the history
 * API, events pushed through live.js, the room's state) and this file is its view:
 * the stream, the topic and banner, presence, the compose box, the embed's join.
 * User text is only ever inserted as text; the one HTML it inserts is the message
 * body that the server produced with bleach (escaped, links only).
 */
(function () {
  "use strict";

  var dataNode = document.getElementById("tm-page");
  if (!dataNode) return;
  var page = JSON.parse(dataNode.textContent);
  var stream = document.getElementById("stream");
  var emptyState = document.getElementById("empty-state");
  var banner = document.getElementById("state-banner");
  var topicNode = document.getElementById("room-topic");
  var compose = document.getElementById("compose");
  var textBox = document.getElementById("compose-text");
  var counterLeft = document.getElementById("compose-left");
  var counter = document.getElementById("compose-counter");
  var composeError = document.getElementById("compose-error");
  var sendButton = document.getElementById("compose-send");

  var roomState = page.state;
  // Our posts waiting for the teacher (ids from the post's answer): one that is deleted
  // instead of shown was rejected, and its author is told.
  var awaiting = {};
  var token = null; // bearer token (embed view); pages otherwise use the cookie
  // The post the teacher shows large on the projector (the room's `spotlight`).
  var spotlight = page.spotlight || null;
  var spotlightBox = document.getElementById("spotlight");  // the projector's

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // The room as this page shows it (feed.js): the history reader, pushed events in
  // order, the room's state; this file draws it (`view` below) and posts.
  var feed = new window.TMFeed.RoomFeed(page, null, function () {
    return token ? { "Authorization": "Bearer " + token } : { "X-CSRFToken": csrfToken() };
  });
  function api(method, path, body) { return feed.api(method, path, body); }

  // -- rendering -------------------------------------------------------------------
  function timeLabel(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function messageNode(m) {
    var li = document.createElement("li");
    li.className = "msg new";
    li.dataset.id = m.id;
    li.dataset.seq = m.seq;
    var nick = document.createElement("span");
    nick.className = "msg-nick";
    nick.dir = "auto";
    nick.textContent = m.nickname;
    if (m.by_teacher) nick.append(" ", teacherMark());
    var text = document.createElement("span");
    text.className = "msg-text";
    text.dir = "auto";
    text.innerHTML = m.html; // bleach output from the server, never raw user text
    var time = document.createElement("time");
    time.className = "msg-time";
    time.dateTime = m.created;
    time.textContent = timeLabel(m.created);
    li.append(nick, text, time);
    if (page.moderator) li.append(moderatorButtons(m));
    else if (page.can_report && m.nickname === page.nickname) li.append(ownDeleteButton(m));
    else if (page.can_report && !m.by_teacher) li.append(reportButton(m));
    return li;
  }

  function teacherMark() {
    var mark = document.createElement("span");
    mark.className = "badge badge-teacher";
    mark.title = "Posted by the room's teacher";
    mark.textContent = "teacher";
    return mark;
  }

  /* A message's action button: `label` ("Delete"), named for whose message it acts on. */
  function messageButton(m, label, className, act) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "icon-button msg-actions " + className;
    button.textContent = label;
    button.setAttribute("aria-label", label + " message from " + m.nickname);
    button.addEventListener("click", function () { act(button); });
    return button;
  }

  function deleteButton(m) {
    return messageButton(m, "Delete", "", function (button) {
      button.disabled = true;
      api("DELETE", "/messages/" + m.id).then(function (r) {
        if (r.status === 204 || r.status === 404) removeMessage(m.id);
        else button.disabled = false;
      }, function () { button.disabled = false; });
    });
  }

  /* A teacher takes a post back into the queue: students stop seeing it at once (the
   * deletion comes by push, here too) and it waits for Approve or Reject. */
  function holdButton(m) {
    return messageButton(m, "Hold", "msg-hold", function (button) {
      button.disabled = true;
      api("POST", "/messages/" + m.id + "/hold", {}).then(function (r) {
        if (r.status === 200 || r.status === 404 || r.status === 409) removeMessage(m.id);
        else button.disabled = false;
      }, function () { button.disabled = false; });
    });
  }

  /* A teacher puts a post on the projector, large, or takes it off again. */
  function spotlightButton(m) {
    var button = messageButton(m, "Spotlight", "msg-spotlight", function () {
      button.disabled = true;
      var on = spotlight !== m.id;
      api("PATCH", "", { spotlight: on ? m.id : null }).then(function (r) {
        button.disabled = false;
        if (r.status === 200) showRoom(r.body);
      }, function () { button.disabled = false; });
    });
    button.setAttribute("aria-pressed", spotlight === m.id ? "true" : "false");
    return button;
  }

  function moderatorButtons(m) {
    var group = document.createElement("span");
    group.className = "msg-actions";
    [spotlightButton(m), holdButton(m), deleteButton(m)].forEach(function (button) {
      button.classList.remove("msg-actions");
      group.append(button);
    });
    return group;
  }

  /* A student takes back a post of theirs (the API lets authors delete their own). */
  function ownDeleteButton(m) {
    var button = deleteButton(m);
    button.classList.add("msg-delete-own");
    button.setAttribute("aria-label", "Delete my message");
    return button;
  }

  /* A student reports a classmate's post: once, and nobody learns who. */
  function reportButton(m) {
    return messageButton(m, "Report", "msg-report", function (button) {
      sendReport(button, m.id);
    });
  }

  function sendReport(button, id) {
    button.disabled = true;
    api("POST", "/messages/" + id + "/report", {}).then(function (r) {
      if (r.status === 200) {
        button.textContent = "Reported";
        button.setAttribute("aria-label", "Reported: your teacher will look at it");
        announce("Reported. Your teacher will look at it; nobody sees who reported it.");
      } else {
        button.disabled = false;
        composeError.textContent = errorText(r);
      }
    }, function () {
      button.disabled = false;
      composeError.textContent = "No connection. The post was not reported.";
    });
  }

  function findMessage(id) {
    return stream.querySelector('li.msg[data-id="' + String(id).replace(/[^0-9]/g, "") + '"]');
  }

  function addMessage(m) {
    delete awaiting[m.id];  // approved
    if (findMessage(m.id)) return;
    var node = messageNode(m);
    // Keep the list in seq order even if an answer arrives late.
    var items = stream.querySelectorAll("li.msg[data-seq]:not(.pending)");
    var before = null;
    for (var i = items.length - 1; i >= 0; i--) {
      if (Number(items[i].dataset.seq) > m.seq) before = items[i];
      else break;
    }
    stream.insertBefore(node, before || firstPending());
    updateEmpty();
    // Our held post was approved: the "waiting for approval" note has done its job.
    if (composeError && composeError.classList.contains("is-note") && m.nickname === page.nickname) {
      composeError.textContent = "";
      composeError.classList.remove("is-note");
    }
  }

  function firstPending() {
    return stream.querySelector("li.msg.pending");
  }

  function removeMessage(id) {
    var node = findMessage(id);
    if (node) node.remove();
    updateEmpty();
  }

  function updateEmpty() {
    if (emptyState) emptyState.hidden = stream.querySelector("li.msg") !== null;
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 150;
  }

  function scrollToNewest() {
    window.scrollTo(0, document.body.scrollHeight);
  }

  // -- room state --------------------------------------------------------------------
  function showRoom(room) {
    if (topicNode) {
      topicNode.textContent = room.topic || "";
      topicNode.hidden = !room.topic;
    }
    roomState = room.state;
    if (banner) {
      var text = "";
      if (room.state === "paused") {
        text = "The teacher has paused this room" +
          (room.paused_until ? " until " + timeLabel(room.paused_until) : "") +
          ". You can read, but not post.";
      } else if (room.state === "closed") {
        text = "This room is closed. You can still read it.";
      }
      banner.textContent = text;
      banner.className = "banner banner-" + room.state;
      banner.hidden = !text;
    }
    setComposeEnabled(room.state === "open");
    // A closed room takes no more posts: no message box, only the banner saying so.
    if (compose) compose.hidden = room.state === "closed";
    if ("spotlight" in room) showSpotlight(room.spotlight || null);
  }

  /* The projector shows the spotlit post large; the teacher's pages mark it, its
     Spotlight button pressed (pressed again, it comes off the projector). */
  function showSpotlight(id) {
    spotlight = id;
    stream.querySelectorAll("li.msg").forEach(function (item) {
      var on = id !== null && Number(item.dataset.id) === id;
      item.classList.toggle("spotlit", on);
      var button = item.querySelector(".msg-spotlight");
      if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
    });
    if (!spotlightBox) return;
    if (id === null) { spotlightBox.hidden = true; return; }
    var shown = findMessage(id);
    if (shown) {
      // The nickname's own text, without the teacher mark inside the same element.
      fillSpotlight(shown.querySelector(".msg-nick").firstChild.textContent.trim(),
                    shown.querySelector(".msg-text").innerHTML);
    } else {  // older than the wall shows: read it
      api("GET", "/messages/" + id + feed.keyQuery("?")).then(function (r) {
        if (r.status === 200 && spotlight === id) fillSpotlight(r.body.nickname, r.body.html);
      });
    }
  }

  function fillSpotlight(nickname, html) {
    document.getElementById("spotlight-nick").textContent = nickname;
    // bleach output from the server (or copied from a post drawn from it), never raw text
    document.getElementById("spotlight-text").innerHTML = html;
    spotlightBox.hidden = false;
  }

  function setComposeEnabled(enabled) {
    if (!textBox) return;
    textBox.disabled = !enabled;
    if (sendButton) sendButton.disabled = !enabled;
    if (enabled) updateCounter();  // still off while the text is over the limit
  }

  function showConnection(ok) {
    if (!banner || roomState !== "open") return;
    if (ok) {
      if (banner.classList.contains("banner-error")) { banner.hidden = true; banner.className = "banner"; }
    } else {
      banner.textContent = "Connection lost. Reconnecting…";
      banner.className = "banner banner-error";
      banner.hidden = false;
    }
  }

  // -- following the room: feed.js keeps it, this view draws it -------------------
  var presence = document.getElementById("presence");
  var waitingLink = document.getElementById("waiting-link");
  var offlineTimer = null;

  function showStatus(state) {
    clearTimeout(offlineTimer);
    if (state === "live") { showConnection(true); return; }
    // A reconnect that succeeds at once should not flash a warning.
    offlineTimer = setTimeout(function () { showConnection(false); }, 3000);
  }

  feed.view = {
    add: function (messages) {
      // Readers who scrolled up to read keep their place; the wall always shows the newest.
      var stick = page.mode === "projector" || nearBottom();
      messages.forEach(addMessage);
      if (stick) scrollToNewest();
    },
    remove: function (ids) {
      ids.forEach(function (id) {
        removeMessage(id);
        if (awaiting[id]) {
          delete awaiting[id];
          announce("The teacher did not approve your post, so the class does not see it.");
        }
      });
    },
    room: showRoom,
    pending: function () {
      if (!waitingLink) return;
      var count = Number(waitingLink.dataset.count || 0) + 1;
      waitingLink.dataset.count = count;
      waitingLink.textContent = count + (count === 1 ? " post waits" : " posts wait") +
        " for approval";
      waitingLink.hidden = false;
    },
    presence: function (count) {
      if (!presence) return;
      presence.textContent = count + (count === 1 ? " person here" : " people here");
      presence.hidden = false;
    },
    status: showStatus,
    gone: function () { window.location.reload(); } // the server's 404 or 410 page
  };

  var following = false;
  var joinedFollow = null; // the ticket that came with the embed's join answer
  function follow() {
    if (following) return;
    // A page that may not read the room (a password room before joining) has no
    // ticket: it shows and follows nothing. The embed gets one with its join answer
    // (or with the bearer token saved in this tab), then reads the history it did not
    // show at first.
    if (!page.follow && !joinedFollow && !token) return;
    following = true;
    var ticket = page.follow || joinedFollow;
    if (page.password_required && !page.follow) {
      var start = function () { feed.follow(ticket); };
      feed.load().then(start, start);
      return;
    }
    feed.follow(ticket);
  }

  // -- posting -----------------------------------------------------------------------
  function updateCounter() {
    if (!textBox || !counterLeft) return;
    var left = page.max_length - Array.from(textBox.value.trim()).length;
    counterLeft.textContent = Math.abs(left);
    var unit = document.getElementById("compose-unit");
    if (unit) {
      unit.textContent = left < 0 ? (left === -1 ? "character over the limit" :
                                                   "characters over the limit")
                                  : (left === 1 ? "character left" : "characters left");
    }
    counter.classList.toggle("low", left <= 20 && left >= 0);
    counter.classList.toggle("over", left < 0);
    if (sendButton) sendButton.disabled = left < 0 || roomState !== "open";
  }

  function pendingNode(text) {
    var li = document.createElement("li");
    li.className = "msg pending";
    var nick = document.createElement("span");
    nick.className = "msg-nick";
    nick.dir = "auto";
    nick.textContent = page.nickname || "You";
    var body = document.createElement("span");
    body.className = "msg-text";
    body.dir = "auto";
    body.textContent = text;
    var status = document.createElement("span");
    status.className = "msg-status";
    status.textContent = "Sending…";
    li.append(nick, body, status);
    return li;
  }

  function errorText(r) {
    if (r.body && r.body.error && r.body.error.message) return r.body.error.message;
    return "Could not send (error " + r.status + "). Try again.";
  }

  function send(event) {
    event.preventDefault();
    var text = textBox.value.trim();
    composeError.textContent = "";
    composeError.classList.remove("is-note");
    if (!text) { composeError.textContent = "Write something first."; return; }
    var over = Array.from(text).length - page.max_length;
    if (over > 0) {  // kept in the box, to shorten
      composeError.textContent = "Your message is " + over + " character" +
        (over === 1 ? "" : "s") + " over this room's limit of " + page.max_length +
        ": shorten it, then send.";
      return;
    }
    if (roomState !== "open") return;
    var placeholder = pendingNode(text);
    stream.append(placeholder);
    updateEmpty();
    scrollToNewest();
    textBox.value = "";
    updateCounter();
    api("POST", "/messages", { text: text }).then(function (r) {
      if (r.status === 201) {
        placeholder.remove();
        if (r.body.status === "pending") {
          awaiting[r.body.id] = true;
          announce("Sent. Your message will show once the teacher approves it.");
        } else {
          addMessage(r.body);
        }
        scrollToNewest();
        return;
      }
      fail(placeholder, text, errorText(r), r);
    }, function () {
      fail(placeholder, text, "No connection. Your message was not sent.");
    });
  }

  function fail(placeholder, text, message, r) {
    placeholder.classList.remove("pending");
    placeholder.classList.add("failed");
    placeholder.querySelector(".msg-status").textContent = "Not sent: " + message;
    composeError.textContent = message;
    if (!textBox.value) { textBox.value = text; updateCounter(); }
    setTimeout(function () { placeholder.remove(); updateEmpty(); }, 8000);
    if (r && r.status === 403) feed.refreshRoom().catch(function () {});
  }

  // A note (not an error) under the post box, e.g. "waiting for approval".
  function announce(message) {
    composeError.textContent = message;
    composeError.classList.add("is-note");
  }

  if (compose && textBox) {
    compose.addEventListener("submit", send);
    textBox.addEventListener("input", updateCounter);
    textBox.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) send(event);
    });
    updateCounter();
    setComposeEnabled(roomState === "open");
    // Just joined (the join form sends the page here): straight to the message box.
    if (window.location.hash === "#compose-text") {
      textBox.focus();
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  // -- the embed view joins with a bearer token (third-party cookies may be blocked) --
  var joinForm = document.getElementById("embed-join");
  var storageKey = "tm-token:" + page.room;
  function remember(value) {
    try { sessionStorage.setItem(storageKey, value); } catch (e) { /* storage blocked */ }
  }
  function recall() {
    try { return sessionStorage.getItem(storageKey); } catch (e) { return null; }
  }
  function showCompose(nickname) {
    page.nickname = nickname;
    page.can_report = true; // joined in the embed: a student
    if (emptyState) emptyState.textContent = "No messages yet."; // was: join to read
    joinForm.hidden = true;
    compose.hidden = false;
    document.getElementById("compose-nick").textContent = nickname;
    textBox.focus();
  }
  if (joinForm) {
    var saved = recall();
    if (saved) {
      var parts = JSON.parse(saved);
      token = parts.token;
      showCompose(parts.nickname);
    }
    joinForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { nickname: joinForm.elements.nickname.value };
      if (joinForm.elements.real_name) body.real_name = joinForm.elements.real_name.value;
      if (joinForm.elements.password) body.password = joinForm.elements.password.value;
      var error = document.getElementById("embed-join-error");
      error.textContent = "";
      fetch(page.api + "/join", {
        method: "POST", credentials: "omit",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (json) { return { status: response.status, body: json }; });
      }).then(function (r) {
        if (r.status !== 201) { error.textContent = errorText(r); return; }
        token = r.body.token;
        remember(JSON.stringify({ token: token, nickname: r.body.nickname }));
        showCompose(r.body.nickname);
        joinedFollow = r.body.follow;
        follow();
      }, function () { error.textContent = "No connection. Try again."; });
    });
  }

  if (stream) {
    // The server-rendered Report buttons post a form; with this script they report
    // through the API and the page stays as it is.
    stream.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("form.msg-actions") || !form.elements.message) return;
      var id = Number(form.elements.message.value);
      var report = form.querySelector(".msg-report");
      var own = form.querySelector(".msg-delete-own");
      if (!report && !own) return;
      event.preventDefault();
      if (report) { sendReport(report, id); return; }
      own.disabled = true;
      api("DELETE", "/messages/" + id).then(function (r) {
        if (r.status === 204 || r.status === 404) removeMessage(id);
        else own.disabled = false;
      }, function () { own.disabled = false; });
    });
    // The server wrote times in UTC; show them like the ones added here, in local time.
    var times = stream.querySelectorAll("time.msg-time[datetime]");
    Array.prototype.forEach.call(times, function (node) {
      node.textContent = timeLabel(node.getAttribute("datetime")) || node.textContent;
    });
    scrollToNewest();
    follow();
  }
})();

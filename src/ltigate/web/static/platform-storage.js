// ltigate: a login's state kept in the LMS's postMessage storage (LTI Client Side postMessages and
// Platform Storage; lti-reference §8), for browsers that send no cookie to a tool inside a frame.
// At login: put state and nonce there, then go on to the LMS's authorization endpoint; when neither
// the storage nor cookies work here, offer a new window. At launch: read both back and post the launch
// again with what was read; the server compares, and refuses any failure reported here.
"use strict";
(function () {
  var root = document.getElementById("ltigate-storage");
  if (!root) { return; }
  var data = root.dataset;
  var WAIT_MS = 1500; // per message (the 1EdTech library waits 1 s; busy devices answer slower)
  var PREFIXES = ["lti.", "org.imsglobal.lti."];

  function Failure(kind, detail) {
    this.kind = kind; // unavailable | origin | missing (the server's storage_failure values)
    this.detail = String(detail || "").slice(0, 200);
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "ltigate-" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // The LMS window: the opener of a new window, else the page framing us; none at the top level.
  function platformWindow() {
    var target = window.opener || window.parent;
    return target && target !== window ? target : null;
  }

  function frameOf(target, name) {
    if (!name || name === "_parent") { return target; }
    try {
      var frame = target.frames[name];
      if (frame && frame !== target && typeof frame.postMessage === "function") { return frame; }
    } catch (e) { /* no such frame: ask the window itself */ }
    return target;
  }

  // Sends one message and waits for its answer: our random message_id, the subject + ".response", and,
  // unless sent to any origin, exactly `origin`. An answer carrying our message id from another origin
  // means the request was relayed where it should not go: that fails at once.
  function ask(target, origin, message) {
    return new Promise(function (resolve, reject) {
      var id = randomId();
      var timer = null;
      function stop() { window.removeEventListener("message", listen); clearTimeout(timer); }
      function listen(event) {
        var answer = event.data;
        if (!answer || typeof answer !== "object" || answer.message_id !== id) { return; }
        if (origin === "*") {
          if (event.source !== target) { return; }
        } else if (event.origin !== origin) {
          stop(); reject(new Failure("origin", event.origin)); return;
        }
        if (answer.subject !== message.subject + ".response") { return; }
        stop();
        if (answer.error) {
          reject(new Failure("unavailable", message.subject + " error " + (answer.error.code || answer.error)));
          return;
        }
        resolve(answer);
      }
      window.addEventListener("message", listen);
      timer = setTimeout(function () { stop(); reject(new Failure("unavailable", message.subject + ": no answer")); }, WAIT_MS);
      try {
        target.postMessage(Object.assign({}, message, { message_id: id }), origin);
      } catch (e) {
        stop(); reject(new Failure("unavailable", message.subject + ": cannot be sent"));
      }
    });
  }

  function storageMessages(list) {
    var found = { put: null, get: null };
    (Array.isArray(list) ? list : []).forEach(function (item) {
      if (!item || typeof item.subject !== "string") { return; }
      PREFIXES.forEach(function (prefix) {
        if (item.subject === prefix + "put_data" && !found.put) { found.put = item; }
        if (item.subject === prefix + "get_data" && !found.get) { found.get = item; }
      });
    });
    return found.put && found.get ? found : null;
  }

  // Both capability probes go out (plain and org.imsglobal-prefixed subjects); the first answer from the
  // LMS window that offers put_data and get_data wins, and its subjects and frames are used from then on.
  function capabilities(target) {
    return new Promise(function (resolve, reject) {
      var pending = PREFIXES.length;
      var settled = false;
      function fail(failure) {
        pending -= 1;
        if (pending === 0 && !settled) { reject(failure); }
      }
      PREFIXES.forEach(function (prefix) {
        ask(target, "*", { subject: prefix + "capabilities" }).then(function (answer) {
          var found = storageMessages(answer.supported_messages);
          if (found && !settled) { settled = true; resolve(found); return; }
          fail(new Failure("unavailable", prefix + "capabilities: no put_data and get_data"));
        }, fail);
      });
    });
  }

  function put(target, offer, key, value) {
    var frame = frameOf(target, offer.put.frame || data.frame);
    return ask(frame, data.origin, { subject: offer.put.subject, key: key, value: value });
  }

  function get(target, offer, key) {
    var frame = frameOf(target, offer.get.frame || data.frame);
    return ask(frame, data.origin, { subject: offer.get.subject, key: key }).then(function (answer) {
      return answer.value;
    });
  }

  // Sets and reads back a cookie with the state cookie's attributes: where it is refused, so is that one.
  function cookiesWork() {
    var name = "ltigate_probe";
    var value = randomId();
    try {
      document.cookie = name + "=" + value + "; Max-Age=60" + data.cookie;
      var works = document.cookie.split("; ").indexOf(name + "=" + value) >= 0;
      document.cookie = name + "=; Max-Age=0" + data.cookie;
      return works;
    } catch (e) {
      return false;
    }
  }

  function login() {
    var onward = document.getElementById("ltigate-continue");
    var target = platformWindow();
    var stored = Promise.resolve(false);
    if (target && data.frame) {
      stored = capabilities(target).then(function (offer) {
        return put(target, offer, data.stateKey, data.state).then(function () {
          return put(target, offer, data.nonceKey, data.nonce);
        });
      }).then(function () { return true; }, function () { return false; });
    }
    stored.then(function (kept) {
      if (kept || cookiesWork()) {
        window.location.replace(onward.href);
        return;
      }
      onward.hidden = true;
      document.getElementById("ltigate-working").hidden = true;
      document.getElementById("ltigate-new-window").hidden = false;
    });
  }

  function isText(value) { return typeof value === "string" && value !== ""; }

  function launch() {
    var form = document.getElementById("ltigate-storage-check");
    var target = platformWindow();
    var read = target
      ? capabilities(target).then(function (offer) {
        return get(target, offer, data.stateKey).then(function (state) {
          return get(target, offer, data.nonceKey).then(function (nonce) { return { state: state, nonce: nonce }; });
        });
      })
      : Promise.reject(new Failure("unavailable", "no LMS window to ask"));
    read.then(function (values) {
      if (!isText(values.state)) { throw new Failure("missing", "no value for the state"); }
      if (!isText(values.nonce)) { throw new Failure("missing", "no value for the nonce"); }
      form.elements.storage_state.value = values.state;
      form.elements.storage_nonce.value = values.nonce;
    }).catch(function (failure) {
      var known = failure instanceof Failure ? failure : new Failure("unavailable", failure);
      form.elements.storage_failure.value = known.kind;
      form.elements.storage_detail.value = known.detail;
    }).then(function () {
      form.submit();
    });
  }

  if (data.step === "login") { login(); } else { launch(); }
})();

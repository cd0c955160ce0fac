/*!
 * kycvs "Share vaccination status" button, version 1.
 *
 * Served by kycvs at /static/button/v1/kycvs-button.js. Published files
 * never change: pages pin this one with its Subresource Integrity hash
 * (docs/integration.md), so fixes and features ship at a new versioned path.
 *
 * What it does: renders an accessible button into each element with the
 * class "kycvs-button" (or wherever kycvs.render puts one). A click runs the
 * OpenID Connect authorization code flow with PKCE (RFC 7636, S256) in a
 * popup, or as a full-page redirect where popups are blocked or the screen
 * is small. kycvs's own pages are never put in a frame (they refuse it).
 * The person's answer comes back to the registered redirect URI, a page on
 * this page's origin that loads this same script; that page hands the
 * answer to the opener with postMessage, addressed to this origin only, and
 * the opener accepts it only from that origin, from the popup it opened,
 * with the state it generated. Then, by default, the code is exchanged at
 * the token endpoint as a public client (no secret in the browser); with
 * exchange "backend", the code and PKCE verifier go to the page instead,
 * for a confidential backend to exchange.
 *
 * Outcome: a "kycvs:result" event on the button's element (it bubbles)
 * and the promise of kycvs.share / button.start, with detail.outcome
 * "shared", "declined" or "error". No dependencies; no cookies; nothing is
 * stored except, in redirect mode, the pending flow in sessionStorage.
 */
(function () {
  'use strict';

  var VERSION = '1';
  var SCRIPT_PATH = '/static/button/v1/kycvs-button.js';
  // States this script makes start with this, so a page that merely has
  // "state" and "code" in its URL for another reason is left alone.
  var STATE_PREFIX = 'kycvs1.';
  var MESSAGE_TYPE = 'kycvs:authorization-response';
  var FLOW_KEY = 'kycvs-button:flow:';     // sessionStorage, redirect mode only
  var ANSWER_KEY = 'kycvs-button:answer';  // sessionStorage, redirect mode only
  var FLOW_MAX_AGE_MS = 60 * 60 * 1000;
  var DEFAULT_SCOPE = 'openid vaccination_status';
  var CLOCK_SKEW_S = 120;

  if (window.kycvs && window.kycvs.version) {
    return; // loaded twice: the first copy does the work
  }

  // The issuer defaults to where this script was loaded from.
  var scriptIssuer = (function () {
    var s = document.currentScript;
    if (!s) {
      var all = document.getElementsByTagName('script');
      for (var i = 0; i < all.length; i++) {
        if (all[i].src && all[i].src.indexOf(SCRIPT_PATH) >= 0) { s = all[i]; break; }
      }
    }
    if (!s || !s.src) { return ''; }
    var at = s.src.indexOf(SCRIPT_PATH);
    return at > 0 ? s.src.slice(0, at) : '';
  })();

  // ---- small helpers ------------------------------------------------------

  function base64url(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomString(n) {
    var b = new Uint8Array(n);
    crypto.getRandomValues(b);
    return base64url(b);
  }

  function sha256(text) {
    return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)).then(function (h) {
      return base64url(new Uint8Array(h));
    });
  }

  function decodeJWTPayload(jwt) {
    var part = String(jwt).split('.')[1] || '';
    var b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) { b64 += '='; }
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  function originOf(url) {
    try { return new URL(url).origin; } catch (e) { return ''; }
  }

  function errorResult(code, description) {
    return { outcome: 'error', error: code, errorDescription: description || '' };
  }

  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function readJSON(key) {
    var s = storage();
    if (!s) { return null; }
    try { return JSON.parse(s.getItem(key) || 'null'); } catch (e) { return null; }
  }

  function remove(key) {
    var s = storage();
    if (s) { try { s.removeItem(key); } catch (e) { /* ignore */ } }
  }

  // ---- discovery (cached per issuer) ---------------------------------------

  var discoveries = {};

  function discover(issuer) {
    if (!discoveries[issuer]) {
      discoveries[issuer] = fetch(issuer + '/.well-known/openid-configuration', { credentials: 'omit' })
        .then(function (r) {
          if (!r.ok) { throw new Error('discovery answered ' + r.status); }
          return r.json();
        })
        .then(function (m) {
          // OpenID Connect Discovery 4.3: the document must name this issuer.
          if (m.issuer !== issuer) { throw new Error('discovery names issuer ' + m.issuer); }
          return m;
        });
      discoveries[issuer].catch(function () { delete discoveries[issuer]; });
    }
    return discoveries[issuer];
  }

  // ---- options -------------------------------------------------------------

  // optionsFrom merges data-* attributes of el (read at every click, so a
  // page may change them, e.g. a fresh data-nonce) with explicit options.
  function optionsFrom(el, explicit) {
    var d = (el && el.dataset) || {};
    var o = explicit || {};
    function pick(name) { return o[name] !== undefined ? o[name] : d[name]; }
    return {
      issuer: String(pick('issuer') || scriptIssuer).replace(/\/+$/, ''),
      clientId: pick('clientId') || '',
      redirectUri: pick('redirectUri') || '',
      scope: pick('scope') || DEFAULT_SCOPE,
      exchange: pick('exchange') || 'browser',
      mode: pick('mode') || 'auto',
      nonce: pick('nonce') || '',
      loginHint: pick('loginHint') || '',
      prompt: pick('prompt') || '',
      label: pick('label') || 'Share vaccination status',
      theme: pick('theme') || 'filled'
    };
  }

  function checkOptions(o) {
    if (!o.issuer) { return 'issuer is not set and could not be derived from the script URL'; }
    if (!o.clientId) { return 'clientId (data-client-id) is required'; }
    if (!o.redirectUri) { return 'redirectUri (data-redirect-uri) is required'; }
    // The answer can only reach this page from a page on its own origin.
    if (originOf(o.redirectUri) !== window.location.origin) {
      return 'redirectUri must be on this page\'s origin (' + window.location.origin + ')';
    }
    if (o.exchange !== 'browser' && o.exchange !== 'backend') { return 'exchange must be "browser" or "backend"'; }
    if (o.mode !== 'auto' && o.mode !== 'popup' && o.mode !== 'redirect') { return 'mode must be "auto", "popup" or "redirect"'; }
    if (!window.crypto || !crypto.subtle) { return 'this page is not a secure context (https) so PKCE cannot be computed'; }
    return '';
  }

  // ---- the flow ------------------------------------------------------------

  // prepare makes a fresh flow (state, nonce, PKCE) and its authorization URL.
  function prepare(o, display) {
    var flow = {
      issuer: o.issuer,
      clientId: o.clientId,
      redirectUri: o.redirectUri,
      exchange: o.exchange,
      state: STATE_PREFIX + randomString(24),
      nonce: o.nonce || randomString(24),
      codeVerifier: randomString(32),
      returnTo: window.location.href,
      created: Date.now()
    };
    return Promise.all([discover(o.issuer), sha256(flow.codeVerifier)]).then(function (r) {
      var meta = r[0];
      var q = new URLSearchParams({
        response_type: 'code',
        client_id: o.clientId,
        redirect_uri: o.redirectUri,
        scope: o.scope,
        state: flow.state,
        nonce: flow.nonce,
        code_challenge: r[1],
        code_challenge_method: 'S256'
      });
      if (display) { q.set('display', display); }
      if (o.loginHint) { q.set('login_hint', o.loginHint); }
      if (o.prompt) { q.set('prompt', o.prompt); }
      flow.tokenEndpoint = meta.token_endpoint;
      flow.authURL = meta.authorization_endpoint + '?' + q.toString();
      return flow;
    });
  }

  // complete turns the authorization response into the outcome.
  function complete(flow, params) {
    if (params.error) {
      // access_denied is one answer for "declined" and "no record".
      if (params.error === 'access_denied') { return Promise.resolve({ outcome: 'declined' }); }
      return Promise.resolve(errorResult(params.error, params.error_description));
    }
    // RFC 9207: when kycvs names itself, it must be the issuer we asked.
    if (params.iss && params.iss !== flow.issuer) {
      return Promise.resolve(errorResult('invalid_issuer', 'The answer came from another issuer.'));
    }
    if (!params.code) { return Promise.resolve(errorResult('invalid_response', 'kycvs answered without a code.')); }
    if (flow.exchange === 'backend') {
      return Promise.resolve({
        outcome: 'shared',
        code: params.code,
        codeVerifier: flow.codeVerifier,
        redirectUri: flow.redirectUri,
        nonce: flow.nonce,
        clientId: flow.clientId
      });
    }
    return exchange(flow, params.code);
  }

  // exchange redeems the code at the token endpoint as a public client.
  function exchange(flow, code) {
    var body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: code,
      redirect_uri: flow.redirectUri,
      client_id: flow.clientId,
      code_verifier: flow.codeVerifier
    });
    return fetch(flow.tokenEndpoint, { method: 'POST', body: body, credentials: 'omit' }).then(function (r) {
      return r.json().then(function (tok) {
        if (!r.ok) { return errorResult(tok.error || 'token_error', tok.error_description); }
        return fromIDToken(flow, tok);
      }, function () {
        return errorResult('token_error', 'The token endpoint answered ' + r.status + '.');
      });
    }, function () {
      return errorResult('network_error', 'kycvs could not be reached. Is this page\'s origin one of the client\'s redirect URI origins?');
    });
  }

  // fromIDToken reads the claims of an ID token this page received straight
  // from the token endpoint over TLS (OIDC Core 3.1.3.7: TLS stands in for
  // the signature check here). A backend must verify the signature itself.
  function fromIDToken(flow, tok) {
    var c;
    try { c = decodeJWTPayload(tok.id_token); } catch (e) {
      return errorResult('invalid_id_token', 'The ID token could not be read.');
    }
    var aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (c.iss !== flow.issuer) { return errorResult('invalid_id_token', 'The ID token names another issuer.'); }
    if (aud.indexOf(flow.clientId) < 0) { return errorResult('invalid_id_token', 'The ID token is for another client.'); }
    if (c.nonce !== flow.nonce) { return errorResult('invalid_id_token', 'The ID token\'s nonce does not match.'); }
    if (typeof c.exp !== 'number' || c.exp + CLOCK_SKEW_S < Date.now() / 1000) {
      return errorResult('invalid_id_token', 'The ID token has expired.');
    }
    if (c.vaccination_status !== 0 && c.vaccination_status !== 1 && c.vaccination_status !== 2) {
      return errorResult('invalid_id_token', 'The ID token carries no vaccination_status.');
    }
    return {
      outcome: 'shared',
      vaccinationStatus: c.vaccination_status,
      idToken: tok.id_token,
      accessToken: tok.access_token,
      expiresIn: tok.expires_in,
      claims: c,
      nonce: flow.nonce
    };
  }

  function smallScreen() {
    return !!(window.matchMedia && window.matchMedia('(max-width: 599px)').matches);
  }

  function openPopup() {
    var w = 480;
    var h = 720;
    var left = Math.max(0, (window.screenX || 0) + ((window.outerWidth || w) - w) / 2);
    var top = Math.max(0, (window.screenY || 0) + ((window.outerHeight || h) - h) / 3);
    var features = 'popup=yes,width=' + w + ',height=' + h + ',left=' + Math.round(left) + ',top=' + Math.round(top);
    try { return window.open('', 'kycvs_' + randomString(6), features); } catch (e) { return null; }
  }

  // share runs one flow. It must be called from a click (or other user
  // gesture) handler, or the browser blocks the popup. The promise never
  // rejects; in redirect mode it never settles, as the page goes away.
  // track, when given, receives the popup window as track.popup.
  function share(o, track) {
    var problem = checkOptions(o);
    if (problem) { return Promise.resolve(errorResult('invalid_configuration', problem)); }
    var popup = null;
    if (o.mode === 'popup' || (o.mode === 'auto' && !smallScreen())) {
      popup = openPopup(); // now, while the click still counts as a user gesture
      if (popup && popup.closed) { popup = null; }
      if (!popup && o.mode === 'popup') {
        return Promise.resolve(errorResult('popup_blocked', 'The browser blocked the kycvs window.'));
      }
    }
    if (!popup) { return redirect(o); }
    if (track) { track.popup = popup; }
    return prepare(o, 'popup').then(function (flow) {
      return viaPopup(flow, popup);
    }, function (err) {
      popup.close();
      return errorResult('discovery_failed', 'kycvs could not be reached: ' + err.message);
    });
  }

  function redirect(o) {
    return prepare(o, '').then(function (flow) {
      var s = storage();
      if (!s) { return errorResult('storage_unavailable', 'This browser keeps no session storage, so the full-page flow cannot resume.'); }
      s.setItem(FLOW_KEY + flow.state, JSON.stringify(flow));
      window.location.assign(flow.authURL);
      return new Promise(function () {}); // the page is leaving
    }, function (err) {
      return errorResult('discovery_failed', 'kycvs could not be reached: ' + err.message);
    });
  }

  function viaPopup(flow, popup) {
    var expectedOrigin = originOf(flow.redirectUri);
    return new Promise(function (resolve) {
      var settled = false;
      var closedSince = 0;
      function finish(result) {
        if (settled) { return; }
        settled = true;
        window.removeEventListener('message', onMessage);
        clearInterval(timer);
        resolve(result);
      }
      function onMessage(ev) {
        // Only our callback page, on the redirect URI's origin, in the
        // window we opened, answering the flow we started, is believed.
        if (ev.origin !== expectedOrigin) { return; }
        if (ev.source !== popup) { return; }
        var d = ev.data;
        if (!d || d.type !== MESSAGE_TYPE || d.state !== flow.state || typeof d.params !== 'object') { return; }
        try { popup.close(); } catch (e) { /* ignore */ }
        complete(flow, d.params).then(finish);
      }
      window.addEventListener('message', onMessage);
      // A closed window without an answer means the person gave up; wait
      // a moment first, as the answer may be queued behind the close.
      var timer = setInterval(function () {
        if (!popup.closed) { return; }
        if (!closedSince) { closedSince = Date.now(); return; }
        if (Date.now() - closedSince > 800) { finish({ outcome: 'declined', reason: 'closed' }); }
      }, 250);
      try {
        popup.location.replace(flow.authURL);
      } catch (e) {
        finish(errorResult('popup_failed', 'The kycvs window could not be opened.'));
      }
    });
  }

  // ---- the callback page ---------------------------------------------------

  // handleCallback runs when this script loads on the redirect URI with an
  // authorization response for a flow it started. It returns true when it
  // took the response.
  function handleCallback() {
    var q = new URLSearchParams(window.location.search);
    var state = q.get('state') || '';
    if (state.indexOf(STATE_PREFIX) !== 0 || !(q.has('code') || q.has('error'))) { return false; }
    var params = {};
    ['code', 'error', 'error_description', 'iss'].forEach(function (k) {
      if (q.has(k)) { params[k] = q.get(k); }
    });
    // Keep the code out of the history and of later Referer headers.
    try { window.history.replaceState(null, '', window.location.pathname); } catch (e) { /* ignore */ }

    var flow = readJSON(FLOW_KEY + state);
    if (flow) {
      // Full-page mode: note the answer and go back to the page that asked.
      try {
        storage().setItem(ANSWER_KEY, JSON.stringify({ state: state, params: params }));
      } catch (e) {
        say('Your browser did not keep the answer. Go back and try again.');
        return true;
      }
      window.location.replace(originOf(flow.returnTo) === window.location.origin ? flow.returnTo : '/');
      return true;
    }
    var opener = null;
    try { opener = window.opener; } catch (e) { opener = null; }
    if (opener && !opener.closed) {
      // Addressed to this origin only: if the opener is anything else (it
      // navigated away, or a foreign page opened kycvs with our client_id),
      // the browser drops the message.
      opener.postMessage({ type: MESSAGE_TYPE, state: state, params: params }, window.location.origin);
      say('You can close this window.');
      window.close();
      return true;
    }
    say('This sign-in is no longer waited for. You can close this window.');
    return true;
  }

  function say(text) {
    function put() {
      var p = document.createElement('p');
      p.textContent = text;
      p.setAttribute('role', 'status');
      document.body.appendChild(p);
    }
    if (document.body) { put(); } else { document.addEventListener('DOMContentLoaded', put); }
  }

  // resumeRedirect finishes a full-page flow when its page loads again.
  function resumeRedirect() {
    var s = storage();
    if (!s) { return Promise.resolve(null); }
    // Forget flows nobody came back to.
    for (var i = s.length - 1; i >= 0; i--) {
      var k = s.key(i);
      if (k && k.indexOf(FLOW_KEY) === 0) {
        var f = readJSON(k);
        if (!f || !(Date.now() - f.created < FLOW_MAX_AGE_MS)) { remove(k); }
      }
    }
    var answer = readJSON(ANSWER_KEY);
    if (!answer) { return Promise.resolve(null); }
    remove(ANSWER_KEY);
    var flow = readJSON(FLOW_KEY + answer.state);
    remove(FLOW_KEY + answer.state);
    if (!flow || typeof answer.params !== 'object') { return Promise.resolve(null); }
    return complete(flow, answer.params).then(function (result) {
      return { result: result, clientId: flow.clientId };
    });
  }

  // ---- the button ----------------------------------------------------------

  var ICON = 'M12 2 4 5v6c0 5 3.4 9.3 8 11 4.6-1.7 8-6 8-11V5l-8-3Zm-1.2 14.2-3.5-3.5 1.4-1.4 2.1 2.1 4.9-4.9 1.4 1.4-6.3 6.3Z';

  function styleButton(b, theme) {
    var blue = '#0b5cad';
    var s = b.style;
    s.display = 'inline-flex';
    s.alignItems = 'center';
    s.gap = '0.5em';
    s.minHeight = '44px';
    s.padding = '0.625em 1.125em';
    s.font = '600 16px/1.25 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    s.borderRadius = '8px';
    s.border = '2px solid ' + blue;
    s.cursor = 'pointer';
    s.background = theme === 'outline' ? '#ffffff' : blue;
    s.color = theme === 'outline' ? blue : '#ffffff';
  }

  function icon() {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '20');
    svg.setAttribute('height', '20');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var path = document.createElementNS(ns, 'path');
    path.setAttribute('d', ICON);
    path.setAttribute('fill', 'currentColor');
    svg.appendChild(path);
    return svg;
  }

  var buttons = [];

  // render puts a button into el and returns its controller:
  // { element, start() }, start() resolving like share().
  function render(el, explicit) {
    if (!el || el.nodeType !== 1) { throw new Error('kycvs.render: an element is required'); }
    if (el.kycvsButton) { return el.kycvsButton; }
    var first = optionsFrom(el, explicit);
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'kycvs-button__button';
    styleButton(b, first.theme);
    b.appendChild(icon());
    var label = document.createElement('span');
    label.textContent = first.label;
    b.appendChild(label);
    el.appendChild(b);

    var pending = null;
    var api = {
      element: el,
      start: function () {
        if (pending) {
          if (pending.popup && !pending.popup.closed) { pending.popup.focus(); }
          return pending.promise;
        }
        var o = optionsFrom(el, explicit);
        pending = { popup: null };
        b.setAttribute('aria-busy', 'true');
        b.style.opacity = '0.75';
        label.textContent = 'Waiting for kycvs\u2026';
        var p = share(o, pending);
        pending.promise = p.then(function (result) {
          pending = null;
          b.removeAttribute('aria-busy');
          b.style.opacity = '';
          label.textContent = o.label;
          deliver(el, explicit, result);
          return result;
        });
        return pending.promise;
      }
    };
    b.addEventListener('click', function () { api.start(); });
    el.kycvsButton = api;
    buttons.push({ el: el, explicit: explicit });
    return api;
  }

  function deliver(el, explicit, result) {
    var target = el || document;
    target.dispatchEvent(new CustomEvent('kycvs:result', { bubbles: true, detail: result }));
    if (explicit && typeof explicit.onResult === 'function') {
      try { explicit.onResult(result); } catch (e) { setTimeout(function () { throw e; }); }
    }
  }

  function renderAll() {
    var els = document.querySelectorAll('.kycvs-button');
    for (var i = 0; i < els.length; i++) {
      if (!els[i].kycvsButton) { render(els[i]); }
    }
  }

  // ---- start ---------------------------------------------------------------

  var resolveRedirect;
  var redirectResult = new Promise(function (r) { resolveRedirect = r; });

  window.kycvs = Object.freeze({
    version: VERSION,
    render: render,
    share: function (options) { return share(optionsFrom(null, options || {})); },
    // redirectResult resolves with the outcome of a full-page flow that
    // just returned to this page, or null when there is none.
    redirectResult: redirectResult
  });

  if (handleCallback()) { resolveRedirect(null); return; }

  function onReady() {
    renderAll();
    resumeRedirect().then(function (r) {
      if (!r) { resolveRedirect(null); return; }
      // Let page scripts that run after this one add their listeners.
      setTimeout(function () {
        var owner = null;
        for (var i = 0; i < buttons.length; i++) {
          if (optionsFrom(buttons[i].el, buttons[i].explicit).clientId === r.clientId) { owner = buttons[i]; break; }
        }
        deliver(owner ? owner.el : null, owner ? owner.explicit : null, r.result);
        resolveRedirect(r.result);
      }, 0);
    }, function () { resolveRedirect(null); });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', onReady);
  } else {
    onReady();
  }
})();

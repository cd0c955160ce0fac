// Demo Airlines: what the booking page does with the button's outcome.
// The button script (loaded just before this file) fires "kycvs:result" on
// its element. With data-exchange="backend" a shared result carries the
// authorization code and the PKCE verifier; our backend redeems them with
// its client secret and verifies the ID token before we show the badge.
(function () {
  'use strict';
  var button = document.getElementById('kycvs-button');
  var badge = document.getElementById('vaccination-badge');

  function show(state, text, status) {
    badge.dataset.state = state;
    if (status === undefined) { delete badge.dataset.status; } else { badge.dataset.status = String(status); }
    badge.textContent = text;
    badge.hidden = false;
  }

  // On a phone the button leaves this page for kycvs and comes back to
  // it: keep the passenger name for this tab meanwhile.
  var passenger = document.getElementById('passenger');
  var store = null;
  try { store = window.sessionStorage; } catch (e) { store = null; }
  if (passenger && store) {
    if (!passenger.value) { passenger.value = store.getItem('demo-airlines:passenger') || ''; }
    passenger.addEventListener('input', function () { store.setItem('demo-airlines:passenger', passenger.value); });
  }

  button.addEventListener('kycvs:result', function (e) {
    var r = e.detail;
    if (r.outcome === 'declined') {
      // Declined, no record, or the window was closed: kycvs does not say
      // which, and neither do we. Offer another way.
      show('declined', 'Vaccination status not shared. You can show your certificate at the airport instead.');
      return;
    }
    if (r.outcome !== 'shared') {
      show('error', 'kycvs could not check your status (' + r.error + '). Please try again.');
      return;
    }
    show('checking', 'Checking with kycvs\u2026');
    fetch('/demo/verify', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ code: r.code, code_verifier: r.codeVerifier })
    }).then(function (resp) {
      return resp.json().then(function (body) {
        if (!resp.ok) { show('error', body.error || 'The check failed. Please try again.'); return; }
        var whose = body.name ? 'Vaccination status of ' + body.name + ': ' : 'Vaccination status: ';
        show('verified', whose + body.text + ', verified by kycvs', body.status);
      });
    }).catch(function () {
      show('error', 'Demo Airlines could not be reached. Please try again.');
    });
  });
})();

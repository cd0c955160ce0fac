// kycvs admin console: the copy button next to a secret shown once. The
// only script of the console; pages work without it (the secret can be
// selected and copied by hand). An external file, because the
// Content-Security-Policy allows no inline script.
(function () {
  'use strict';
  function copy(button) {
    var target = document.getElementById(button.getAttribute('data-copy'));
    var status = document.getElementById('copy-status');
    if (!target) { return; }
    var text = target.textContent;
    var done = function (ok) {
      if (status) { status.textContent = ok ? 'Copied.' : 'Could not copy: select the secret and copy it by hand.'; }
      button.setAttribute('data-copied', ok ? 'yes' : 'no');
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(target);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    done(ok);
  }
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('button[data-copy]');
    if (b) { copy(b); }
  });
}());

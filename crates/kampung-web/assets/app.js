// The officer's page: the NIK is checked as it is typed (the rule it
// breaks, from the node), and Enter shows the verdict without reloading the
// page. Without this script every form still works (a full page each time).
// Each verdict shown is measured from Enter to paint as the performance
// entry "verdict" (the speed benchmark reads them).
(function () {
  'use strict';
  var form = document.getElementById('cek');
  if (!form) { return; }
  var input = document.getElementById('nik');
  var hint = document.getElementById('nik-hint');
  var out = document.getElementById('putusan');
  var timer = null;
  var typed = 0;
  var shown = 0;

  function check() {
    var value = input.value;
    var mine = ++typed;
    if (!value.trim()) {
      hint.textContent = '';
      hint.className = 'hint';
      input.removeAttribute('aria-invalid');
      return;
    }
    fetch('/pos/cek?nik=' + encodeURIComponent(value), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c || mine !== typed) { return; }
        hint.textContent = c.message;
        var bad = !c.ok && !c.partial;
        hint.className = bad ? 'hint bad' : 'hint';
        if (bad) { input.setAttribute('aria-invalid', 'true'); } else { input.removeAttribute('aria-invalid'); }
      })
      .catch(function () { /* the node answers the Enter anyway */ });
  }

  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(check, 150);
  });

  form.addEventListener('submit', function (e) {
    var nik = input.value.trim();
    if (!nik) { e.preventDefault(); return; }
    e.preventDefault();
    clearTimeout(timer);
    typed++;
    var started = performance.now();
    // What the page said of the last person goes: the hint, the last message.
    hint.textContent = '';
    hint.className = 'hint';
    input.removeAttribute('aria-invalid');
    document.querySelectorAll('.flash').forEach(function (f) { f.remove(); });
    var mine = ++shown;
    fetch('/pos/putusan?nik=' + encodeURIComponent(nik), { credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok || r.redirected) {
          // Signed out, or refused: the full page says why.
          window.location.assign('/pos?nik=' + encodeURIComponent(nik));
          return null;
        }
        return r.text();
      })
      .then(function (html) {
        if (html === null || mine !== shown) { return; }
        out.innerHTML = html;
        var verdict = document.getElementById('verdict');
        if (verdict) { verdict.focus({ preventScroll: true }); }
        window.history.replaceState(null, '', '/pos?nik=' + encodeURIComponent(nik));
        // The frame after the next is the first painted with the verdict.
        requestAnimationFrame(function () {
          setTimeout(function () {
            performance.measure('verdict', { start: started, end: performance.now() });
          }, 0);
        });
      })
      .catch(function () { window.location.assign('/pos?nik=' + encodeURIComponent(nik)); });
  });

  // Escape clears the field for the next person.
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') {
      input.value = '';
      hint.textContent = '';
      out.innerHTML = '';
      input.focus();
    }
  });
})();

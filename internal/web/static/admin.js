// commentd moderator UI: keyboard shortcuts, actions without a page load,
// and live updates of the queue. Everything here is an enhancement: each
// action is also a plain form that works without JavaScript.
(function () {
  'use strict';

  var UNDO_MS = 30000; // how long "u" can take back the last action

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  var csrfMeta = $('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';
  var toast = $('#adm-toast');
  var queue = $('#adm-queue');
  var bulk = $('#adm-bulk');
  var help = $('#adm-help');
  var current = null; // the card the keyboard works on
  var last = null; // {entries: [{id, card, next}], at}
  var touched = {}; // comment id -> time this page last acted on it
  var toastTimer = 0;

  // say shows a short message and reads it out (the toast is a live region).
  function say(message, ms) {
    if (!toast) return;
    toast.textContent = message;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toast.textContent = ''; }, ms || 6000);
  }

  // ---- Times: the server writes UTC; show them relative, in local time.
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;
  function relative(d) {
    var s = (d.getTime() - Date.now()) / 1000;
    var units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];
    if (!rtf) return d.toLocaleString();
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(s) >= units[i][1]) return rtf.format(Math.round(s / units[i][1]), units[i][0]);
    }
    return 'just now';
  }
  function showTimes(root) {
    $$('time[datetime]', root).forEach(function (t) {
      var d = new Date(t.getAttribute('datetime'));
      if (isNaN(d.getTime())) return;
      t.title = d.toLocaleString();
      t.textContent = t.closest('.adm-card-when') ? relative(d) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    });
  }
  showTimes(document);
  setInterval(function () { $$('.adm-card-when').forEach(showTimes); }, 60000);

  // ---- A new token's value: select it all on focus, ready to copy.
  $$('[data-select-on-focus]').forEach(function (el) {
    el.addEventListener('focus', function () { el.select(); });
  });

  // ---- Requests.
  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: body.toString()
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var msg = data.error || ('The server answered ' + res.status + '.');
          if (res.status === 401) msg = 'Your session has ended. Reload the page to sign in again.';
          throw new Error(msg);
        }
        return data;
      });
    });
  }

  // ---- Cards.
  function cards() { return queue ? $$('.adm-card', queue) : $$('.adm-card'); }
  function byId(id) {
    if (!queue) return null;
    return queue.querySelector('.adm-card[data-id="' + (window.CSS && CSS.escape ? CSS.escape(id) : id) + '"]');
  }
  function author(card) { return card.getAttribute('data-author') || 'someone'; }

  function setCurrent(card, scroll) {
    if (current && current !== card) current.classList.remove('is-current');
    current = card;
    if (!card) return;
    card.classList.add('is-current');
    if (scroll !== false) {
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: 'nearest' });
    }
  }

  function move(delta) {
    var list = cards();
    if (!list.length) { say('No comments here.'); return; }
    var i = list.indexOf(current);
    if (i < 0) i = delta > 0 ? 0 : list.length - 1;
    else i = Math.max(0, Math.min(list.length - 1, i + delta));
    setCurrent(list[i]);
  }

  function updateEmpty() {
    if (!queue) return;
    var any = cards().length > 0;
    var empty = $('#adm-empty');
    if (empty) empty.hidden = any;
    if (bulk) bulk.hidden = !any;
  }

  function showError(card, message) {
    var p = card && $('.adm-card-error', card);
    if (p) { p.textContent = message; p.hidden = false; }
    say(message);
  }

  // removeCard takes a card out of the list, remembering where it was, and
  // moves the keyboard to its neighbour.
  function removeCard(card) {
    var entry = { id: card.getAttribute('data-id'), card: card, next: card.nextElementSibling };
    if (current === card) {
      var list = cards();
      var i = list.indexOf(card);
      setCurrent(list[i + 1] || list[i - 1] || null);
    }
    var box = $('.adm-select', card);
    if (box) box.checked = false;
    card.classList.remove('is-current', 'is-selected', 'is-busy');
    card.remove();
    updateEmpty();
    updateBulk();
    return entry;
  }

  var labels = { approve: 'Approve', reject: 'Reject', spam: 'Spam' };

  // act applies an action to a card: in the queue without a page load, on
  // the comment's own page by posting its form.
  function act(card, action) {
    if (!card) { say('Choose a comment first: press j.'); return; }
    var btn = $('button[data-action="' + action + '"]', card);
    if (!btn) { say((labels[action] || action) + ' is not possible for this comment.'); return; }
    if (!queue || !queue.contains(card)) { btn.click(); return; }
    var id = card.getAttribute('data-id');
    touched[id] = Date.now();
    card.classList.add('is-busy');
    var body = new URLSearchParams();
    body.set('back', queue.getAttribute('data-back') || '/admin');
    post(btn.formAction, body).then(function (data) {
      card.classList.remove('is-busy');
      var err = $('.adm-card-error', card);
      if (err) err.hidden = true;
      if (data.status !== queue.getAttribute('data-status')) {
        last = { entries: [removeCard(card)], at: Date.now() };
        say(data.message + ' Press u to undo.');
      } else {
        say(data.message);
      }
    }).catch(function (e) {
      card.classList.remove('is-busy');
      showError(card, e.message);
    });
  }

  function bulkAct(action) {
    var boxes = $$('.adm-select:checked', queue);
    if (!boxes.length) { say('Select comments first: press x, or tick their boxes.'); return; }
    var body = new URLSearchParams();
    body.set('action', action);
    body.set('back', queue.getAttribute('data-back') || '/admin');
    boxes.forEach(function (b) {
      body.append('id', b.value);
      touched[b.value] = Date.now();
      b.closest('.adm-card').classList.add('is-busy');
    });
    post(bulk.getAttribute('action'), body).then(function (data) {
      var entries = [], ok = 0, failed = 0;
      (data.results || []).forEach(function (r) {
        var card = byId(r.id);
        if (card) card.classList.remove('is-busy');
        if (!r.ok) { failed++; showError(card, r.message); return; }
        ok++;
        if (card && r.status !== queue.getAttribute('data-status')) entries.push(removeCard(card));
      });
      last = entries.length ? { entries: entries, at: Date.now() } : null;
      var msg = ok + (ok === 1 ? ' comment changed.' : ' comments changed.');
      if (failed) msg += ' ' + failed + ' could not be changed.';
      if (entries.length) msg += ' Press u to undo.';
      say(msg);
    }).catch(function (e) {
      boxes.forEach(function (b) { b.closest('.adm-card').classList.remove('is-busy'); });
      say(e.message);
    });
  }

  // undo takes back the last action, if it is recent: the server puts each
  // comment back, and its card returns to where it was.
  function undo() {
    if (!last || Date.now() - last.at > UNDO_MS) { say('Nothing to undo.'); return; }
    var entries = last.entries.slice().reverse();
    last = null;
    var back = 0;
    var chain = Promise.resolve();
    entries.forEach(function (e) {
      chain = chain.then(function () {
        touched[e.id] = Date.now();
        return post('/admin/comments/' + encodeURIComponent(e.id) + '/undo', new URLSearchParams()).then(function () {
          if (e.next && e.next.parentNode === queue) queue.insertBefore(e.card, e.next);
          else queue.appendChild(e.card);
          back++;
          setCurrent(e.card);
        });
      });
    });
    chain.then(function () {
      updateEmpty();
      say(back === 1 ? 'Undone: the comment is back.' : 'Undone: ' + back + ' comments are back.');
    }).catch(function (e) {
      updateEmpty();
      say('Could not undo: ' + e.message);
    });
  }

  // ---- Selection and the bulk bar.
  var selectAll = $('#adm-select-all');
  function updateBulk() {
    if (!bulk || !queue) return;
    var all = $$('.adm-select', queue);
    var n = all.filter(function (b) { return b.checked; }).length;
    all.forEach(function (b) { b.closest('.adm-card').classList.toggle('is-selected', b.checked); });
    var count = $('#adm-bulk-count');
    if (count) count.textContent = n ? n + ' selected' : 'Select comments to act on several at once';
    bulk.classList.toggle('is-active', n > 0);
    $$('button[name="action"]', bulk).forEach(function (b) { b.disabled = n === 0; });
    if (selectAll) {
      selectAll.checked = n > 0 && n === all.length;
      selectAll.indeterminate = n > 0 && n < all.length;
    }
  }
  if (bulk && queue) {
    if (selectAll) {
      selectAll.closest('label').hidden = false;
      selectAll.addEventListener('change', function () {
        $$('.adm-select', queue).forEach(function (b) { b.checked = selectAll.checked; });
        updateBulk();
      });
    }
    queue.addEventListener('change', function (e) {
      if (e.target.classList.contains('adm-select')) updateBulk();
    });
    updateBulk();
  }

  function toggleSelect(card) {
    var box = card && $('.adm-select', card);
    if (!box) { say('Choose a comment first: press j.'); return; }
    box.checked = !box.checked;
    updateBulk();
    say(box.checked ? 'Selected.' : 'Deselected.', 1500);
  }

  // Forms in the queue post in the background.
  document.addEventListener('submit', function (e) {
    if (!queue) return;
    var form = e.target;
    var btn = e.submitter;
    if (form === bulk && btn && btn.value) {
      e.preventDefault();
      bulkAct(btn.value);
    } else if (form.classList.contains('adm-actions') && queue.contains(form) && btn && btn.getAttribute('data-action')) {
      e.preventDefault();
      var card = form.closest('.adm-card');
      setCurrent(card, false);
      act(card, btn.getAttribute('data-action'));
    }
  });
  if (queue) {
    queue.addEventListener('focusin', function (e) {
      var card = e.target.closest('.adm-card');
      if (card && card !== current) setCurrent(card, false);
    });
  }

  // ---- Help.
  var helpOpen = $('#adm-help-open');
  function openHelp() {
    if (!help || help.open) return;
    if (help.showModal) help.showModal(); else help.setAttribute('open', '');
    var close = $('#adm-help-close');
    if (close) close.focus();
  }
  if (help) {
    if (helpOpen) { helpOpen.hidden = false; helpOpen.addEventListener('click', openHelp); }
    var closeBtn = $('#adm-help-close');
    if (closeBtn) closeBtn.addEventListener('click', function () { help.close ? help.close() : help.removeAttribute('open'); });
    help.addEventListener('click', function (e) { if (e.target === help) help.close(); }); // backdrop
  }

  // ---- Keyboard.
  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName.toLowerCase();
    if (tag === 'textarea' || tag === 'select') return true;
    if (tag !== 'input') return false;
    return ['checkbox', 'radio', 'button', 'submit', 'reset'].indexOf((el.type || '').toLowerCase()) < 0;
  }

  document.addEventListener('keydown', function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (help && help.open) return; // the dialog closes itself on Esc
    var standalone = !queue ? $('.adm-card') : null;
    var card = current || standalone;
    switch (e.key) {
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'a': act(card, 'approve'); break;
      case 'r': act(card, 'reject'); break;
      case 's': act(card, 'spam'); break;
      case 'x': toggleSelect(current); break;
      case 'u': undo(); break;
      case 'o': {
        var link = card && $('.adm-open', card);
        if (link) window.location.href = link.href;
        else return;
        break;
      }
      case '?': openHelp(); break;
      default: return;
    }
    e.preventDefault();
  });

  // ---- Live: new held comments appear, handled ones leave.
  var waiting = 0;
  function newBar() {
    var bar = $('#adm-newbar');
    if (!bar) return;
    $('a', bar).textContent = waiting + (waiting === 1 ? ' new comment' : ' new comments') + ' — show';
    bar.hidden = false;
  }
  function fetchCard(id) {
    var url = '/admin/comments/' + encodeURIComponent(id) + '/card?back=' + encodeURIComponent(queue.getAttribute('data-back') || '/admin');
    return fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } }).then(function (res) {
      if (!res.ok) return null;
      return res.text().then(function (html) {
        var tpl = document.createElement('template');
        tpl.innerHTML = html.trim();
        var card = tpl.content.querySelector('.adm-card');
        if (card) showTimes(card);
        return card;
      });
    });
  }
  function onHeld(ev) {
    if (queue.getAttribute('data-status') !== ev.status) return;
    var site = queue.getAttribute('data-site');
    if (site && site !== ev.site) return;
    if (byId(ev.comment_id)) return;
    if (queue.getAttribute('data-narrowed') === 'true' || queue.getAttribute('data-has-next') === 'true') {
      waiting++;
      newBar();
      return;
    }
    fetchCard(ev.comment_id).then(function (card) {
      if (!card || byId(ev.comment_id)) return;
      queue.appendChild(card);
      updateEmpty();
      updateBulk();
      say('New comment from ' + author(card) + '.');
    });
  }
  function onChanged(ev) {
    var card = byId(ev.comment_id);
    if (!card || card.classList.contains('is-busy')) return;
    if (Date.now() - (touched[ev.comment_id] || 0) < 5000) return; // our own action
    if (ev.status !== queue.getAttribute('data-status')) {
      removeCard(card);
      say('A comment by ' + author(card) + ' was handled by another moderator.');
      return;
    }
    if (card === current) return; // do not pull it from under the keyboard
    fetchCard(ev.comment_id).then(function (fresh) {
      if (fresh && card.parentNode === queue) queue.replaceChild(fresh, card);
    });
  }
  if (queue && window.EventSource) {
    var es = new EventSource('/admin/events');
    es.addEventListener('comment.held', function (m) { try { onHeld(JSON.parse(m.data)); } catch (e) { /* a malformed event is skipped */ } });
    es.addEventListener('comment.changed', function (m) { try { onChanged(JSON.parse(m.data)); } catch (e) { /* skipped */ } });
    es.addEventListener('error', function () {
      if (es.readyState === EventSource.CLOSED) say('Live updates stopped. Reload the page to resume them.', 15000);
    });
    window.addEventListener('pagehide', function () { es.close(); });
  }
})();

/* commentd embed: the comment section of an article page.
 *
 *   <div id="commentd"></div>
 *   <script src="https://COMMENTD/embed.js" data-site="blog" async></script>
 *
 * data-page (default: location.pathname), data-page-url and data-page-title
 * describe the page. If #commentd already holds the section rendered by
 * commentd (GET /sites/{site}/thread, included by the site's server), it is
 * enhanced; otherwise the script fetches that fragment. Elements with
 * data-commentd-count="PAGE" (and optionally data-commentd-site) are filled
 * with the page's comment count, with one request per site.
 *
 * Server data reaches the page as text, never as HTML, except body_html,
 * which commentd rendered and sanitised; author links must be http(s).
 * The reader's own comments awaiting moderation and, if asked, their name,
 * email and website are kept in this browser's localStorage only. */
(function () {
  'use strict';
  var script = document.currentScript || document.querySelector('script[data-site][src*="/embed."]');
  if (!script) return;
  var opts = script.dataset;
  var base = script.src.replace(/\/embed(\.[\w-]+)?\.js([?#].*)?$/, '');
  var AUTHOR = 'commentd-author';
  var KEEP_PENDING = 30 * 864e5; // how long an unmoderated comment is shown to its author

  function enc(s) { return encodeURIComponent(s); }
  function api(site, path) { return base + '/api/v1/sites/' + enc(site) + path; }
  function responses(n) { return n === 0 ? 'No Responses yet' : n === 1 ? '1 Response' : n + ' Responses'; }
  function webURL(s) {
    try { var u = new URL(s); return u.protocol === 'http:' || u.protocol === 'https:'; } catch (e) { return false; }
  }
  function recall(key) {
    try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
  }
  function keep(key, value) {
    try {
      if (value == null) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage disabled or full: the page still works */ }
  }
  // newKey returns a random Idempotency-Key: 128 bits in hex.
  function newKey() {
    var b = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
    else for (var i = 0; i < b.length; i++) b[i] = Math.floor(Math.random() * 256);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }
  function getJSON(url) {
    return fetch(url, { credentials: 'omit' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    });
  }

  // Count helper: data-commentd-count="PAGE" elements, one request per site
  // (per 100 pages).
  function fillCounts() {
    var bySite = {};
    document.querySelectorAll('[data-commentd-count]').forEach(function (el) {
      var site = el.getAttribute('data-commentd-site') || opts.site;
      var page = el.getAttribute('data-commentd-count').trim();
      if (site && page) (bySite[site] = bySite[site] || []).push(el);
    });
    Object.keys(bySite).forEach(function (site) {
      var els = bySite[site];
      var pages = els.map(function (el) { return el.getAttribute('data-commentd-count').trim(); })
        .filter(function (p, i, all) { return all.indexOf(p) === i; });
      for (var i = 0; i < pages.length; i += 100) {
        var q = pages.slice(i, i + 100).map(function (p) { return 'page=' + enc(p); }).join('&');
        getJSON(api(site, '/counts?' + q)).then(function (j) {
          els.forEach(function (el) {
            var n = j.counts[el.getAttribute('data-commentd-count').trim()];
            if (typeof n !== 'number') return;
            el.textContent = responses(n);
            el.setAttribute('data-commentd-counted', String(n));
          });
        }).catch(function () { /* counts are decoration: leave the elements as they are */ });
      }
    });
  }

  // The address of this page without the fragment and without a reply the
  // reader picked without JavaScript.
  function pageURL() {
    var u = new URL(opts.pageUrl || location.href, location.href);
    u.hash = '';
    u.searchParams.delete('replytocom');
    return u.href;
  }

  function load(box) {
    var replyTo = new URL(location.href).searchParams.get('replytocom');
    var q = 'page=' + enc(opts.page || location.pathname) + '&page_url=' + enc(pageURL()) +
      '&page_title=' + enc(opts.pageTitle || document.title) + (replyTo ? '&replytocom=' + enc(replyTo) : '');
    box.setAttribute('aria-busy', 'true');
    fetch(base + '/sites/' + enc(opts.site) + '/thread?' + q, { credentials: 'omit' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.text();
    }).then(function (html) {
      // An inert document: nothing in it runs while it is parsed.
      var root = new DOMParser().parseFromString(html, 'text/html').querySelector('section.commentd');
      if (!root) throw new Error('no comment section in the answer');
      root = document.adoptNode(root);
      box.replaceChildren(root);
      return root;
    }).then(function (root) {
      box.removeAttribute('aria-busy');
      enhance(root, false);
      // A link to a comment (#comment-ID) could not find it before it was here.
      var target = document.getElementById(location.hash.slice(1));
      if (location.hash && target && root.contains(target)) target.scrollIntoView();
    }, function () {
      box.removeAttribute('aria-busy');
      var p = document.createElement('p');
      p.className = 'commentd-load-error';
      p.textContent = 'The comments could not be loaded. Please reload the page to try again.';
      box.replaceChildren(p);
    });
  }

  function enhance(root, included) {
    var site = root.getAttribute('data-commentd-site') || opts.site;
    var respond = root.querySelector('.commentd-respond');
    var form = respond && respond.querySelector('form');
    var tpl = root.querySelector('template.commentd-template');
    if (!form || !tpl || !form.querySelector('.commentd-status')) return; // not a section this script knows
    var f = form.elements;
    var page = f.page.value;
    var pendingKey = 'commentd:' + site + ':' + page;
    var home = respond.parentNode, homeNext = respond.nextSibling;
    var status = form.querySelector('.commentd-status');
    var cancel = form.querySelector('.commentd-cancel');
    var replyToName = form.querySelector('.commentd-reply-to');
    var button = form.querySelector('button[type=submit]');
    var save = form.querySelector('#commentd-save');
    // Unticking forgets the saved details at once, not at the next post.
    if (save) save.addEventListener('change', function () { if (!save.checked) keep(AUTHOR, null); });
    var busy = false;
    // The last submission whose answer was lost or a server error, and its
    // Idempotency-Key: sent again unchanged, it goes with the same key, so
    // that the server stores it at most once.
    var unanswered = null;

    function say(text, isError) {
      status.classList.toggle('commentd-is-error', !!isError);
      status.textContent = text;
    }
    function refreshToken() {
      getJSON(api(site, '/form-token?page=' + enc(page))).then(function (j) {
        if (j.token) f.form_token.value = j.token;
      }).catch(function () { /* the token in the page still serves */ });
    }
    function commentOf(id) {
      var el = id && document.getElementById('comment-' + id);
      return el && root.contains(el) ? el : null;
    }
    function updateCount() {
      root.querySelector('.commentd-count').textContent =
        responses(root.querySelectorAll('.commentd-comment:not(.commentd-is-pending)').length);
    }

    // Draws a comment from its public view (the submit answer, or what was
    // kept of it) with the server's own markup, cloned from the template.
    // html is the body as commentd rendered and sanitised it, straight from
    // its answer; comments recalled from this browser's storage have only
    // their text, which is drawn as text.
    function draw(c, pending, html) {
      var li = document.importNode(tpl.content, true).querySelector('.commentd-comment');
      li.id = 'comment-' + c.id;
      li.tabIndex = -1;
      var author = li.querySelector('.commentd-author');
      if (c.website && webURL(c.website)) {
        var a = document.createElement('a');
        a.href = c.website;
        a.rel = 'nofollow ugc noopener';
        a.textContent = String(c.name);
        author.replaceChildren(a);
      } else {
        author.textContent = String(c.name);
      }
      li.querySelector('.commentd-permalink').href = '#comment-' + c.id;
      var time = li.querySelector('time'), d = new Date(c.created_at);
      if (isNaN(d)) d = new Date();
      time.dateTime = d.toISOString();
      // As the server writes it: "November 2, 2026 at 09:30" (UTC).
      time.textContent = d.toLocaleDateString('en-US', { month: 'long', day: 'numeric', year: 'numeric', timeZone: 'UTC' }) +
        ' at ' + d.toISOString().slice(11, 16);
      var body = li.querySelector('.commentd-body');
      if (typeof html === 'string') {
        body.innerHTML = html; // rendered and sanitised by commentd, never from storage
      } else {
        var p = document.createElement('p');
        p.style.whiteSpace = 'pre-wrap';
        p.textContent = String(c.text || '');
        body.replaceChildren(p);
      }
      if (!pending) {
        li.classList.remove('commentd-is-pending');
        li.querySelector('.commentd-pending').remove();
      }
      return li;
    }
    function place(li, parentID) {
      var parent = commentOf(parentID), list;
      if (parent) {
        list = parent.querySelector(':scope > .commentd-replies');
        if (!list) {
          list = document.createElement('ol');
          list.className = 'commentd-replies';
          parent.appendChild(list);
        }
      } else {
        list = root.querySelector('.commentd-list');
        list.hidden = false;
      }
      list.appendChild(li);
    }

    // The reader's own comments awaiting moderation, kept in this browser
    // until the thread shows them approved (or for 30 days).
    function showPending() {
      var now = Date.now(), still = [];
      var list = recall(pendingKey);
      (Array.isArray(list) ? list : []).forEach(function (c) {
        if (!c || !c.id || !(now - c.kept < KEEP_PENDING)) return;
        var shown = commentOf(c.id);
        if (shown && !shown.classList.contains('commentd-is-pending')) return; // approved
        still.push(c);
        if (!shown) place(draw(c, true, null), c.parent_id);
      });
      keep(pendingKey, still.length ? still : null);
    }

    // Replies: the form moves under the comment, before its replies.
    function moveUnder(li) {
      li.insertBefore(respond, li.querySelector(':scope > .commentd-replies'));
      cancel.hidden = false;
    }
    function replyTo(li) {
      f.parent_id.value = li.id.slice('comment-'.length);
      replyToName.textContent = ' to ' + li.querySelector('.commentd-author').textContent;
      moveUnder(li);
      f.body.focus();
    }
    function cancelReply(focus) {
      var li = commentOf(f.parent_id.value);
      f.parent_id.value = '';
      home.insertBefore(respond, homeNext);
      replyToName.textContent = '';
      cancel.hidden = true;
      var link = li && li.querySelector('.commentd-reply');
      if (focus && link) link.focus();
    }

    function clearErrors() {
      form.querySelectorAll('.commentd-error, .commentd-error-summary').forEach(function (el) { el.remove(); });
      form.querySelectorAll('[aria-invalid]').forEach(function (el) {
        el.removeAttribute('aria-invalid');
        el.removeAttribute('aria-describedby');
      });
      say('');
    }
    function showErrors(fields) {
      var first = null, other = [];
      Object.keys(fields).forEach(function (name) {
        var input = f[name];
        if (!input || !input.id || input.type === 'hidden') {
          other.push(fields[name]);
          return;
        }
        var msg = document.createElement('span');
        msg.className = 'commentd-error';
        msg.id = input.id + '-error';
        msg.textContent = fields[name];
        input.after(msg);
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', msg.id);
        if (!first) first = input;
      });
      if (first) other.unshift('Your comment could not be posted yet. Please correct the fields marked above.');
      say(other.join(' '), true);
      if (first) first.focus();
    }

    function posted(answer) {
      var c = answer.comment, pending = answer.status !== 'approved';
      // Only the text is kept, never HTML: what is recalled from storage is
      // drawn as text.
      var kept = { id: c.id, parent_id: c.parent_id, name: c.author.name, website: c.author.website || '',
        text: f.body.value, created_at: c.created_at, kept: Date.now() };
      var li = draw(kept, pending, String(c.body_html || ''));
      place(li, kept.parent_id);
      if (pending) {
        var list = recall(pendingKey);
        keep(pendingKey, (Array.isArray(list) ? list : []).concat([kept]));
      }
      keep(AUTHOR, save.checked ? { name: f.name.value, email: f.email.value, website: f.website.value } : null);
      // The typed text goes only once the comment is shown; so does the
      // notify box, which each comment asks afresh.
      f.body.value = '';
      if (f.notify_replies) f.notify_replies.checked = false;
      if (f.parent_id.value) cancelReply(false);
      if (!pending) updateCount();
      say(answer.message || (pending ? 'Your comment is awaiting moderation.' : 'Your comment is published.'));
      li.focus();
      refreshToken();
    }

    function submit(e) {
      e.preventDefault();
      if (busy) return;
      busy = true;
      button.setAttribute('aria-disabled', 'true');
      clearErrors();
      var data = {};
      ['page', 'page_url', 'page_title', 'parent_id', 'name', 'email', 'website', 'body', 'form_token', 'url'].forEach(function (n) {
        if (f[n]) data[n] = f[n].value;
      });
      // Sent only when ticked: a site that does not offer reply
      // notifications draws no box.
      if (f.notify_replies && f.notify_replies.checked) data.notify_replies = true;
      say('Posting your comment…');
      var sent = JSON.stringify(data);
      var key = unanswered && unanswered.sent === sent ? unanswered.key : newKey();
      unanswered = { sent: sent, key: key };
      fetch(form.action, {
        method: 'POST', credentials: 'omit',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Idempotency-Key': key },
        body: sent
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          // Answered for good: the next submission gets a new key.
          if (r.status < 500 && (r.status !== 201 || j.comment)) unanswered = null;
          if (r.status === 201 && j.comment) posted(j);
          else if (r.status === 422 && j.fields) showErrors(j.fields);
          else say((j.error || 'Your comment could not be posted (error ' + r.status + ').') + ' What you typed is still here.', true);
        });
      }, function () {
        say('Your comment could not be sent: the connection failed. What you typed is still here; please try again.', true);
      }).finally(function () {
        busy = false;
        button.removeAttribute('aria-disabled');
      });
    }

    form.addEventListener('submit', submit);
    root.addEventListener('click', function (e) {
      var a = e.target.closest && e.target.closest('a');
      if (!a || !root.contains(a)) return;
      if (a.classList.contains('commentd-reply')) {
        e.preventDefault();
        replyTo(a.closest('.commentd-comment'));
      } else if (cancel.contains(a)) {
        e.preventDefault();
        cancelReply(true);
      }
    });

    var author = recall(AUTHOR);
    save.parentNode.hidden = false;
    if (author) {
      ['name', 'email', 'website'].forEach(function (n) {
        if (!f[n].value && typeof author[n] === 'string') f[n].value = author[n];
      });
      save.checked = true;
    }
    showPending();
    // A reply picked before the script ran (?replytocom=ID): the form goes
    // under that comment, as a Reply click would put it.
    var parent = commentOf(f.parent_id.value);
    if (parent) moveUnder(parent);
    // A section included by the site's server may be old, and its form
    // token with it. One fetched just now is fresh.
    if (included) refreshToken();
  }

  function start() {
    fillCounts();
    var box = document.getElementById('commentd');
    if (!box || box.hasAttribute('data-commentd-ready') || !opts.site) return;
    box.setAttribute('data-commentd-ready', '');
    var root = box.querySelector('section.commentd');
    if (root) enhance(root, true);
    else load(box);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

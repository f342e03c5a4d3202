/* kg-editor, the research side of the canvas (issue 14):
 *  - hover tooltips on nodes and edges (full name, domain, prevalence; OR with CI and
 *    direction status), a plain DOM div at the pointer, role="tooltip";
 *  - node pinning (the node card's Pin button or the P key): a pinned node is locked and
 *    keeps its place across edits and re-layouts;
 *  - positions kept across edits: a node that arrives later (a merged concept, a wider
 *    neighbourhood) is placed beside its neighbours instead of re-laying out the graph;
 *    the layout is written to the kg-layout-state store, which "Save version" saves
 *    with the graph;
 *  - re-layout (dagre, causal order top to bottom) optionally grouped by domain within
 *    each rank, with a legend line;
 *  - the side column follows the selection (its card scrolls into view).
 * Reads only what the server put in the elements' data; sends nothing but the layout. */
(function () {
  "use strict";
  var CANVAS = "kg-canvas", LAYOUT_STORE = "kg-layout-state", PIN_BUTTON = "kg-node-pin";
  var DOMAIN_ORDER = ["demographic", "condition", "observation", "measurement", "procedure", "drug", "other"];
  var st = { cy: null, tip: null, grouped: false, known: {}, fresh: [], layoutRan: false,
    saveTimer: null, placeFrame: null };

  function findCy() {
    var el = document.getElementById(CANVAS);
    return el && el._cyreg && el._cyreg.cy ? el._cyreg.cy : null;
  }

  // --- tooltips ----------------------------------------------------------------------
  function fmt(x, digits) {
    return (typeof x === "number" && isFinite(x)) ? x.toFixed(digits) : "–";
  }
  function tipDiv() {
    if (st.tip && document.body.contains(st.tip)) { return st.tip; }
    var d = document.createElement("div");
    d.id = "kg-tooltip";
    d.className = "kg-tooltip";
    d.setAttribute("role", "tooltip");
    d.hidden = true;
    document.body.appendChild(d);
    st.tip = d;
    return d;
  }
  function line(parent, text, cls) {
    var p = document.createElement("div");
    if (cls) { p.className = cls; }
    p.textContent = text;  // text only: labels are never interpreted as markup
    parent.appendChild(p);
  }
  function label(node) {
    return node.data("full_label") || node.data("label") || node.id();
  }
  function fillNode(d, n) {
    line(d, label(n), "tt-title");
    line(d, "Domain: " + (n.data("domain") || "other"));
    var prev = n.data("prev_shown");
    line(d, "Prevalence: " + (n.data("prev_hidden") ? "suppressed (small count)"
      : (typeof prev === "number" ? (100 * prev).toFixed(1) + "%" : "–")));
    if (n.data("pinned")) { line(d, "Pinned in place (P unpins)", "tt-muted"); }
  }
  function fillEdge(d, e) {
    var s = e.source(), t = e.target();
    if (e.data("latent")) {
      line(d, label(s) + " ↔ " + label(t), "tt-title");
      line(d, "Unmeasured common cause");
      return;
    }
    line(d, label(s) + " → " + label(t), "tt-title");
    var ci = e.data("ci") || [];
    line(d, "OR " + fmt(e.data("or"), 2) + " (95% CI " + fmt(ci[0], 2) + "–" + fmt(ci[1], 2) + ")", "tt-or");
    line(d, "Direction: " + (e.data("direction") || "not recorded"));
  }
  function place(d, ev) {
    var oe = ev.originalEvent;
    var x = oe ? oe.clientX : 0, y = oe ? oe.clientY : 0;
    var w = d.offsetWidth, h = d.offsetHeight;
    var left = Math.min(x + 14, window.innerWidth - w - 8);
    var top = (y + 16 + h > window.innerHeight) ? y - h - 12 : y + 16;
    d.style.left = Math.max(4, left) + "px";
    d.style.top = Math.max(4, top) + "px";
  }
  function showTip(ev) {
    var el = ev.target;
    if (!el || el.hasClass("eh-handle") || el.hasClass("ghost") || el.hasClass("refused")) { return; }
    var d = tipDiv();
    d.textContent = "";
    if (el.isNode()) { fillNode(d, el); } else { fillEdge(d, el); }
    d.hidden = false;
    place(d, ev);
    var c = document.getElementById(CANVAS);
    if (c) { c.setAttribute("aria-describedby", "kg-tooltip"); }
  }
  function hideTip() {
    if (st.tip) { st.tip.hidden = true; }
    var c = document.getElementById(CANVAS);
    if (c) { c.removeAttribute("aria-describedby"); }
  }

  // --- pinning -----------------------------------------------------------------------
  function setPinned(n, on) {
    if (!n || n.empty() || !n.isNode()) { return; }
    if (on) { n.data("pinned", true); n.lock(); } else { n.data("pinned", false); n.unlock(); }
    syncPinButton();
    scheduleSave();
  }
  function togglePin(id) {
    if (!st.cy) { return; }
    var n = st.cy.getElementById(id);
    setPinned(n, !n.data("pinned"));
  }
  function pinnedIds() {
    if (!st.cy) { return []; }
    return st.cy.nodes().filter(function (n) { return !!n.data("pinned"); }).map(function (n) { return n.id(); });
  }
  function syncPinButton() {
    var b = document.getElementById(PIN_BUTTON);
    if (!b || !st.cy) { return; }
    var n = st.cy.getElementById(b.getAttribute("data-node"));
    var on = !n.empty() && !!n.data("pinned");
    var pressed = on ? "true" : "false", text = on ? "Unpin (P)" : "Pin in place (P)";
    // change only what differs: each change is a mutation the observer below sees
    if (b.getAttribute("aria-pressed") !== pressed) { b.setAttribute("aria-pressed", pressed); }
    if (b.textContent !== text) { b.textContent = text; }
  }

  // --- positions -------------------------------------------------------------------
  function remember() {
    if (!st.cy) { return; }
    st.cy.nodes().forEach(function (n) {
      var p = n.position();
      st.known[n.id()] = [Math.round(p.x * 10) / 10, Math.round(p.y * 10) / 10];
    });
  }
  function scheduleSave() {
    if (st.saveTimer) { window.clearTimeout(st.saveTimer); }
    st.saveTimer = window.setTimeout(function () {
      st.saveTimer = null;
      remember();
      if (window.dash_clientside && window.dash_clientside.set_props) {
        window.dash_clientside.set_props(LAYOUT_STORE, { data: { positions: st.known, pinned: pinnedIds() } });
      }
    }, 300);
  }
  // A node the server added after the first layout (no place of its own) goes beside its
  // placed neighbours, or below the graph; nothing else moves.
  function placeFresh() {
    st.placeFrame = null;
    var cy = st.cy, fresh = st.fresh;
    st.fresh = [];
    if (!cy || st.layoutRan) { st.layoutRan = false; return; }
    var moved = false, gap = 70, waiting = [];
    fresh.forEach(function (id) {
      var n = cy.getElementById(id);
      if (n.empty() || n.locked()) { return; }
      var p = n.position();
      if (p.x !== 0 || p.y !== 0) { return; }  // came with a position (saved layout)
      if (st.known[id]) {  // was on the canvas since the last layout (shown again)
        n.position({ x: st.known[id][0], y: st.known[id][1] });
        moved = true;
        return;
      }
      waiting.push(n);
    });
    // Beside the neighbours already placed, in rounds: a new node whose only neighbours
    // are new too goes beside them once they have their place.
    var placed = {};
    function isPlaced(m) { return fresh.indexOf(m.id()) < 0 || placed[m.id()]; }
    while (waiting.length) {
      var next = [], progress = false;
      waiting.forEach(function (n) {
        var near = n.neighborhood("node").filter(isPlaced);
        if (!near.length) { next.push(n); return; }
        var x = 0, y = 0;
        near.forEach(function (m) { x += m.position("x"); y += m.position("y"); });
        n.position({ x: x / near.length + gap, y: y / near.length });
        placed[n.id()] = true;
        progress = moved = true;
      });
      waiting = next;
      if (!progress) { break; }
    }
    waiting.forEach(function (n) {  // no neighbour on the canvas: below the graph
      var bb = cy.nodes().not(n).boundingBox();
      n.position({ x: bb.x1, y: bb.y2 + gap });
      moved = true;
    });
    if (moved) { scheduleSave(); }
  }

  // --- layout ----------------------------------------------------------------------
  function domainRank(n) {
    var i = DOMAIN_ORDER.indexOf(n.data("domain") || "other");
    return i < 0 ? DOMAIN_ORDER.length : i;
  }
  // Within each rank of the hierarchical layout (nodes on one row), the nodes are put
  // in domain order, keeping the row's slots: a domain reads as a block in every rank.
  function groupRanks(nodes) {
    var rows = {};
    nodes.forEach(function (n) {
      var key = Math.round(n.position("y"));
      (rows[key] = rows[key] || []).push(n);
    });
    Object.keys(rows).forEach(function (key) {
      var row = rows[key];
      var xs = row.map(function (n) { return n.position("x"); }).sort(function (a, b) { return a - b; });
      row.sort(function (a, b) { return (domainRank(a) - domainRank(b)) || (a.position("x") - b.position("x")); });
      row.forEach(function (n, i) { n.position("x", xs[i]); });
    });
  }
  function groupLegend() {
    var lg = document.getElementById("kg-legend");
    if (!lg) { return; }
    var el = document.getElementById("kg-group-legend");
    if (!el) {
      el = document.createElement("div");
      el.id = "kg-group-legend";
      el.className = "lg-row group-legend";
      lg.appendChild(el);
    }
    el.hidden = !st.grouped;
    if (!st.grouped || !st.cy) { return; }
    var present = {};
    st.cy.nodes().forEach(function (n) { present[n.data("domain") || "other"] = true; });
    el.textContent = "Layout: causes above their effects; within each row, left to right: " +
      DOMAIN_ORDER.filter(function (d) { return present[d]; }).join(" · ");
  }
  function relayout() {
    var cy = st.cy;
    if (!cy) { return; }
    var pins = cy.nodes().filter(function (n) { return !!n.data("pinned"); });
    var saved = pins.map(function (n) { return [n, { x: n.position("x"), y: n.position("y") }]; });
    pins.unlock();
    var free = cy.elements().not(".ghost, .refused, .eh-handle, .eh-ghost-edge");
    free.layout({ name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 70, edgeSep: 8,
      ranker: "network-simplex", animate: false, fit: false, padding: 24 }).run();
    if (st.grouped) { groupRanks(cy.nodes().not(pins)); }
    saved.forEach(function (s) { s[0].position(s[1]); s[0].lock(); });
    cy.fit(undefined, 24);
    groupLegend();
    scheduleSave();
  }
  function setGrouped(on) {
    var was = st.grouped;
    st.grouped = !!on;
    if (was !== st.grouped) { relayout(); } else { groupLegend(); }
  }

  // --- the side column follows the selection -----------------------------------------
  function showCard(id) {
    var card = document.getElementById(id);
    var side = card && card.closest ? card.closest(".col-side") : null;
    if (!card || !side) { return; }
    var top = card.getBoundingClientRect().top - side.getBoundingClientRect().top + side.scrollTop;
    // in view when its head and first lines (200 px) are inside the column's window
    var sr = side.getBoundingClientRect(), ct = card.getBoundingClientRect().top;
    var visible = ct >= Math.max(sr.top, 0) && ct + 200 <= Math.min(sr.bottom, window.innerHeight);
    if (!visible) { side.scrollTop = Math.max(0, top - 8); }
  }

  function attach(cy) {
    st.cy = cy;
    st.known = {};
    // nodes saved as pinned arrive with data.pinned: lock them
    cy.nodes().forEach(function (n) { if (n.data("pinned")) { n.lock(); } });
    remember();
    cy.on("mouseover", "node, edge", showTip);
    cy.on("mousemove", "node, edge", function (ev) { if (st.tip && !st.tip.hidden) { place(st.tip, ev); } });
    cy.on("mouseout", "node, edge", hideTip);
    cy.on("tapstart zoom", hideTip);
    // leaving the canvas fires no element mouseout: hide it then too, and on scrolling
    var box = cy.container();
    if (box) { box.addEventListener("mouseleave", hideTip); }
    window.addEventListener("scroll", hideTip, { passive: true });
    cy.on("layoutstart", function () { st.layoutRan = true; });
    // a layout starts a new frame: positions from before it (nodes out of view now)
    // are forgotten, so a node coming back is placed beside its neighbours instead
    cy.on("layoutstop", function () { st.known = {}; remember(); scheduleSave(); });
    cy.on("dragfree", function () { scheduleSave(); });
    cy.on("add", "node", function (ev) {
      st.fresh.push(ev.target.id());
      if (ev.target.data("pinned")) { ev.target.lock(); }
      if (st.placeFrame === null) {
        st.layoutRan = false;
        st.placeFrame = window.requestAnimationFrame(placeFresh);
      }
    });
    // a click on a node or an edge (or a row of the edge table, or the review queue's
    // step) brings its card into view; a redraw that keeps a selection does not, so the
    // report stays in view after an edit
    cy.on("tap", "node, edge", function () { window.setTimeout(function () { showCard("kg-edge-card"); }, 50); });
    scheduleSave();
  }

  function poll() {
    var cy = findCy();
    if (cy && cy !== st.cy) { attach(cy); }
    window.setTimeout(poll, cy ? 1000 : 100);
  }

  function typing(t) {
    if (!t) { return false; }
    var tag = (t.tagName || "").toLowerCase();
    if (tag === "input" && /^(checkbox|radio|button|submit)$/i.test(t.type || "")) { return false; }
    return tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable;
  }

  document.addEventListener("keydown", function (ev) {
    if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if ((ev.key === "p" || ev.key === "P") && st.cy) {
      var sel = st.cy.nodes(":selected");
      if (!sel.length) { return; }
      ev.preventDefault();
      var on = !sel[0].data("pinned");
      sel.forEach(function (n) { setPinned(n, on); });
    }
  });
  document.addEventListener("click", function (ev) {
    var b = ev.target && ev.target.closest ? ev.target.closest("#" + PIN_BUTTON) : null;
    if (b) { togglePin(b.getAttribute("data-node")); }
  });
  // the node card is re-rendered by the server: show the pin state of its node
  new MutationObserver(function () {
    if (document.getElementById(PIN_BUTTON)) { syncPinButton(); }
  }).observe(document.documentElement, { childList: true, subtree: true });

  window.kgResearch = {
    relayout: relayout,
    setGrouped: setGrouped,
    togglePin: togglePin,
    pinned: pinnedIds,
    // tests read these: the layout as the page would save it, and the rank grouping
    layout: function () { remember(); return { positions: st.known, pinned: pinnedIds() }; },
    grouped: function () { return st.grouped; }
  };
  poll();
})();

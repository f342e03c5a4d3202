/* kg-editor glue: attaches cytoscape-edgehandles (drag to connect), click-to-connect,
 * keyboard shortcuts, suggestion previews and focus helpers to the live Cytoscape
 * instance. Every edit is sent to the server (dash_clientside.set_props on the
 * kg-client-action store), which decides whether it is allowed. */
(function () {
  "use strict";
  var CANVAS = "kg-canvas", ACTION = "kg-client-action", CONNECT = "kg-connect-mode";
  var state = { cy: null, eh: null, connect: false, pending: null, nonce: 0 };

  // --- in step with the server -------------------------------------------------------
  // One edit is in flight at a time. While it is, the edit controls are disabled
  // (aria-disabled, and their clicks are swallowed before Dash sees them) and keyboard
  // edits wait in a queue; a keyboard edit on "the selected edge" is resolved when it is
  // sent, so five presses of R flip the edge five times. Every answer carries the
  // session's revision (view.server_revision); one lower than the highest seen is stale,
  // and the page then asks the server to redraw everything from its latest state.
  var EDIT_CONTROLS = "#kg-undo, #kg-redo, #kg-edge-remove, #kg-edge-reverse, #kg-form-add, " +
    "li.suggestion button, .kg-review-action";
  var flight = { busy: false, queue: [], maxRev: -1, drawnRev: -1, pending: null, timer: null,
    expect: null,
    sent: 0, settled: 0, redraws: 0 };

  function setBusy(on) {
    flight.busy = !!on;
    document.body.classList.toggle("kg-busy", flight.busy);
    var els = document.querySelectorAll(EDIT_CONTROLS);
    for (var i = 0; i < els.length; i++) {
      if (flight.busy) { els[i].setAttribute("aria-disabled", "true"); }
      else { els[i].removeAttribute("aria-disabled"); }
    }
    if (flight.timer) { window.clearTimeout(flight.timer); flight.timer = null; }
    // never stay locked: an answer that was lost (a network error) frees the page
    if (flight.busy) { flight.timer = window.setTimeout(function () { settled({ lost: true }); }, 20000); }
  }

  function post(payload) {
    state.nonce += 1;
    payload.nonce = Date.now() + ":" + state.nonce;
    if (window.dash_clientside && window.dash_clientside.set_props) {
      flight.sent += 1;
      flight.pending = payload.nonce;
      setBusy(true);
      showPayload(payload);
      window.dash_clientside.set_props(ACTION, { data: payload });
    }
  }

  // The edge a queued keyboard edit acts on: the selected one, or (when a redraw lost
  // the selection) the edge the previous keyboard reversal made.
  function edgeForKeys() {
    var sel = selectedEdge();
    if (sel) { return sel; }
    var x = flight.expect;
    if (x && state.cy) {
      var e = state.cy.edges().filter(function (y) {
        return y.data("source") === x.source && y.data("target") === x.target;
      });
      if (e.length) { e.select(); return x; }
    }
    return null;
  }

  function send(payload) {
    if (flight.busy) { flight.queue.push(payload); return; }
    if (payload.fromSelection) {
      var sel = edgeForKeys();
      if (!sel) {  // nothing to act on: skip it, go on with the queue
        if (flight.queue.length) { send(flight.queue.shift()); }
        return;
      }
      payload.source = sel.source; payload.target = sel.target;
      delete payload.fromSelection;
      flight.expect = payload.kind === "reverse" ? { source: sel.target, target: sel.source } : null;
    }
    post(payload);
  }

  // An answer arrived (view: the kg-view store it wrote). The canvas and report are
  // stale, and a redraw is asked for, when: the answer to our edit was replaced by
  // another one (Dash keeps only the newest answer of a callback); an answer that did
  // not redraw says the session is newer than what the canvas shows; or a redrawing
  // answer is older than one already drawn.
  function settled(view) {
    var stale = false;
    clearOptimistic();
    if (view && view.hints !== undefined) { optimistic.hints = view.hints; }
    if (flight.busy) { flight.settled += 1; }
    if (view && view.lost) { stale = true; }
    if (view && typeof view.server_revision === "number") {
      var rev = view.server_revision;
      if (flight.pending && view.nonce !== flight.pending) { stale = true; }
      if (view.drawn) {
        if (rev < flight.drawnRev) { stale = true; } else { flight.drawnRev = rev; }
      } else if (rev > flight.drawnRev) {
        stale = true;
      }
      flight.maxRev = Math.max(flight.maxRev, rev);
    }
    flight.pending = null;
    setBusy(false);
    if (stale) { flight.queue.unshift({ kind: "refresh" }); flight.redraws += 1; }
    if (flight.queue.length) {
      var next = flight.queue.shift();
      // let Dash render this answer (and select the new edge) before the next edit
      window.setTimeout(function () { send(next); }, 0);
    }
  }

  // Clicks on edit controls while an edit is in flight never reach Dash; the first one
  // starts the flight.
  document.addEventListener("click", function (ev) {
    var b = ev.target && ev.target.closest ? ev.target.closest(EDIT_CONTROLS) : null;
    if (!b) { return; }
    if (flight.busy || b.disabled) {
      if (flight.busy) { ev.preventDefault(); ev.stopPropagation(); }
      return;
    }
    flight.sent += 1;
    flight.pending = null;
    setBusy(true);
    showClick(b);
  }, true);

  // --- optimistic update (issue 14, instant feedback) --------------------------------
  // The edit in flight is drawn on the canvas at once in a 'pending' style: an added or
  // reversed edge as a dashed edge of its own (never one of Dash's elements, so Dash's
  // redraw cannot collide with it), a removed or reversed edge hidden. When the answer
  // arrives (settled) the marks are taken away: the server's elements are then on the
  // canvas, so an accepted edit stays and a refused one (a cycle) rolls back, with the
  // server's message. Undo and redo are drawn from the server's hint of what they change.
  var optimistic = { hints: null, n: 0, hidden: [] };

  function drawnEdges(s, t) {
    return state.cy.edges().filter(function (e) {
      return e.data("source") === s && e.data("target") === t && !e.hasClass("kg-optimistic");
    });
  }

  function showEdit(removes, adds) {
    var cy = state.cy;
    if (!cy) { return; }
    cy.batch(function () {
      removes.forEach(function (p) {
        // a bypass style, not a class: Dash's redraw may reset an edge's classes
        drawnEdges(p[0], p[1]).forEach(function (e) {
          e.style("display", "none");
          optimistic.hidden.push(e);
        });
      });
      adds.forEach(function (p) {
        if (cy.getElementById(p[0]).empty() || cy.getElementById(p[1]).empty()) { return; }
        var shown = drawnEdges(p[0], p[1]).filter(function (e) { return optimistic.hidden.indexOf(e) < 0; });
        if (shown.length) { return; }
        optimistic.n += 1;
        cy.add({ group: "edges", classes: "kg-optimistic", selectable: false,
          data: { id: "kg-optimistic-" + optimistic.n, source: p[0], target: p[1] } });
      });
    });
  }

  function showKind(kind, s, t) {
    if (kind === "reverse") { showEdit([[s, t]], [[t, s]]); }
    else if (kind === "remove") { showEdit([[s, t]], []); }
    else if (kind === "add") { showEdit([], [[s, t]]); }
    else if ((kind === "undo" || kind === "redo") && optimistic.hints && optimistic.hints[kind]) {
      showEdit(optimistic.hints[kind].remove || [], optimistic.hints[kind].add || []);
    }
  }

  function showPayload(p) {
    if (p && p.kind && !p.fromSelection) { showKind(p.kind, p.source, p.target); }
  }

  // an edit button was clicked (Dash sends it): what it will change
  function showClick(b) {
    var id = b.id || "", sel = selectedEdge();
    if (id === "kg-undo") { showKind("undo"); return; }
    if (id === "kg-redo") { showKind("redo"); return; }
    if ((id === "kg-edge-reverse" || id === "kg-edge-remove") && sel && !sel.latent) {
      showKind(id === "kg-edge-reverse" ? "reverse" : "remove", sel.source, sel.target);
      return;
    }
    var row = b.closest ? b.closest("li.suggestion") : null;
    if (row && id.indexOf("kg-suggest-accept") >= 0) {
      showKind(row.getAttribute("data-kind"), row.getAttribute("data-source"),
        row.getAttribute("data-target"));
    }
  }

  function clearOptimistic() {
    var cy = state.cy;
    if (!cy) { return; }
    cy.batch(function () {
      cy.remove(cy.edges(".kg-optimistic"));
      optimistic.hidden.forEach(function (e) { if (e.inside()) { e.removeStyle("display"); } });
      optimistic.hidden = [];
    });
  }

  function clearPending() {
    if (state.cy) { state.cy.nodes(".pending-source").removeClass("pending-source"); }
    state.pending = null;
  }

  function setConnect(on) {
    state.connect = !!on;
    clearPending();
    var b = document.getElementById(CONNECT);
    if (b) { b.classList.toggle("active", state.connect); }
    document.body.classList.toggle("kg-connecting", state.connect);
    if (state.eh) {
      if (state.connect) { state.eh.enableDrawMode(); } else { state.eh.disableDrawMode(); }
    }
  }

  function selectedEdge() {
    if (!state.cy) { return null; }
    var e = state.cy.edges(":selected").filter(function (x) {
      return !x.hasClass("ghost") && !x.hasClass("refused") && !x.hasClass("kg-optimistic");
    });
    if (e.length === 0) { return null; }
    return { source: e[0].data("source"), target: e[0].data("target"), latent: e[0].hasClass("latent") };
  }

  // --- labels legible at every zoom (issue 14) -----------------------------------------
  // A fitted overview zooms out, and a 10 px label then renders at 3-4 px. Each node's
  // label keeps at least MIN_LABEL_PX on screen: below that zoom its font grows as the
  // zoom falls (an element style over the stylesheet's size, recomputed on zoom and when
  // Dash replaces the elements).
  var MIN_LABEL_PX = 11, labelFrame = null;
  function readableLabels() {
    labelFrame = null;
    var cy = state.cy;
    if (!cy) { return; }
    var min = MIN_LABEL_PX / cy.zoom();
    cy.batch(function () {
      cy.nodes().forEach(function (n) {
        n.removeStyle("font-size");
        if (parseFloat(n.style("font-size")) < min) { n.style("font-size", min); }
      });
    });
  }
  function scheduleLabels() {
    if (labelFrame === null) { labelFrame = window.requestAnimationFrame(readableLabels); }
  }

  function attach(cy) {
    state.cy = cy;
    cy.on("zoom add layoutstop", scheduleLabels);
    scheduleLabels();
    // edgehandles: register on this instance only (dash-cytoscape keeps its own cytoscape)
    if (window.cytoscapeEdgehandles && !cy.edgehandles) {
      window.cytoscapeEdgehandles(function (type, name, impl) { if (type === "core") { cy[name] = impl; } });
    }
    if (cy.edgehandles) {
      state.eh = cy.edgehandles({
        snap: false,
        preview: false,
        hoverDelay: 100,
        canConnect: function (s, t) { return !s.same(t); },
        edgeParams: function () { return { classes: "eh-created" }; }
      });
      cy.on("ehcomplete", function (evt, source, target, added) {
        if (added) { added.remove(); }
        send({ kind: "add", source: source.id(), target: target.id(), via: "drag" });
      });
    }
    cy.on("tap", "node", function (evt) {
      if (!state.connect) { return; }
      var n = evt.target;
      if (n.hasClass("eh-handle")) { return; }
      if (!state.pending) {
        state.pending = n.id();
        n.addClass("pending-source");
      } else if (state.pending === n.id()) {
        clearPending();
      } else {
        var src = state.pending;
        clearPending();
        send({ kind: "add", source: src, target: n.id(), via: "click" });
      }
    });
    cy.on("tap", function (evt) { if (evt.target === cy) { clearPending(); } });
  }

  // Cytoscape caches where its canvas sits on the page; when the page above it changes
  // height (an alert, a wrapped header) clicks would land on the wrong node. Refresh the
  // cache whenever the pointer enters or presses on the canvas.
  function refreshCoords() {
    if (!state.cy) { return; }
    var r = state.cy.renderer && state.cy.renderer();
    if (r && r.invalidateContainerClientCoordsCache) { r.invalidateContainerClientCoordsCache(); }
  }
  ["mousedown", "mouseover", "contextmenu", "touchstart"].forEach(function (type) {
    document.addEventListener(type, function (ev) {
      var el = document.getElementById(CANVAS);
      if (el && ev.target && el.contains(ev.target)) { refreshCoords(); }
    }, true);
  });

  function findCy() {
    var el = document.getElementById(CANVAS);
    return el && el._cyreg && el._cyreg.cy ? el._cyreg.cy : null;
  }

  function poll() {
    var cy = findCy();
    if (cy && cy !== state.cy) { attach(cy); }
    window.setTimeout(poll, cy ? 1000 : 100);
  }

  function typing(target) {
    if (!target) { return false; }
    var tag = (target.tagName || "").toLowerCase();
    // a ticked checkbox (review mode, say) keeps the focus but takes no text: E, R and
    // Delete still act on the selected edge
    if (tag === "input" && /^(checkbox|radio|button|submit)$/i.test(target.type || "")) { return false; }
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (ev) {
    if (typing(ev.target)) { return; }
    var key = ev.key || "";
    var mod = ev.ctrlKey || ev.metaKey;
    if (mod && (key === "z" || key === "Z")) {
      ev.preventDefault();
      send({ kind: ev.shiftKey ? "redo" : "undo" });
      return;
    }
    if (mod && (key === "y" || key === "Y")) { ev.preventDefault(); send({ kind: "redo" }); return; }
    if (mod || ev.altKey) { return; }
    if (key === "Escape") { setConnect(false); return; }
    var sel = selectedEdge();
    if ((key === "Delete" || key === "Backspace") && (sel || flight.busy)) {
      ev.preventDefault();
      send({ kind: "remove", fromSelection: true, via: "keyboard" });
    } else if ((key === "r" || key === "R") && (sel || flight.busy)) {
      ev.preventDefault();
      send({ kind: "reverse", fromSelection: true, via: "keyboard" });
    } else if ((key === "e" || key === "E") && (sel || flight.busy)) {
      ev.preventDefault();
      send({ kind: "endorse", fromSelection: true, via: "keyboard" });
    }
  });

  document.addEventListener("click", function (ev) {
    var b = ev.target && ev.target.closest ? ev.target.closest("#" + CONNECT) : null;
    if (b) { setConnect(!state.connect); }
  });

  // Suggestion hover: preview the edit as a ghost on the canvas.
  function clearPreview() {
    if (!state.cy) { return; }
    state.cy.remove(state.cy.edges(".ghost"));
    state.cy.edges(".ghost-remove").removeClass("ghost-remove");
  }
  function preview(row) {
    if (!state.cy) { return; }
    clearPreview();
    var s = row.getAttribute("data-source"), t = row.getAttribute("data-target"), k = row.getAttribute("data-kind");
    var cy = state.cy;
    if (cy.getElementById(s).empty() || cy.getElementById(t).empty()) { return; }
    if (k === "add") {
      cy.add({ group: "edges", data: { id: "ghost-preview", source: s, target: t, width: 3 }, classes: "ghost", selectable: false });
    } else {
      cy.edges().filter(function (e) { return e.data("source") === s && e.data("target") === t; }).addClass("ghost-remove");
      if (k === "reverse") {
        cy.add({ group: "edges", data: { id: "ghost-preview", source: t, target: s, width: 3 }, classes: "ghost", selectable: false });
      }
    }
  }
  document.addEventListener("mouseover", function (ev) {
    var row = ev.target && ev.target.closest ? ev.target.closest("li.suggestion") : null;
    if (row && row !== state.hoverRow) { state.hoverRow = row; preview(row); }
    if (!row && state.hoverRow) { state.hoverRow = null; clearPreview(); }
  });
  document.addEventListener("click", function (ev) {
    if (ev.target && ev.target.closest && ev.target.closest("li.suggestion button")) {
      state.hoverRow = null; clearPreview();
    }
  }, true);

  window.kgEditor = {
    relayout: function () {
      if (!state.cy) { return; }
      state.cy.layout({ name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 70, edgeSep: 8,
        ranker: "network-simplex", animate: false, fit: true, padding: 24 }).run();
    },
    focusNode: function (id) {
      if (!state.cy) { return; }
      var n = state.cy.getElementById(id);
      if (n.empty()) { return; }
      state.cy.elements(":selected").unselect();
      n.select();
      state.cy.animate({ center: { eles: n }, zoom: Math.max(state.cy.zoom(), 1.2) }, { duration: 250 });
    },
    setConnect: setConnect,
    settled: settled,
    send: send,
    flight: function () {
      return { busy: flight.busy, queued: flight.queue.length, maxRev: flight.maxRev,
        drawnRev: flight.drawnRev, sent: flight.sent, settled: flight.settled,
        redraws: flight.redraws };
    },
    isConnect: function () { return state.connect; },
    // edges drawn ahead of the server's answer, and edges hidden until it comes
    optimistic: function () {
      if (!state.cy) { return { shown: [], hidden: [] }; }
      var pairs = function (c) { return c.map(function (e) { return [e.data("source"), e.data("target")]; }); };
      return { shown: pairs(state.cy.edges(".kg-optimistic")),
        hidden: optimistic.hidden.filter(function (e) { return e.inside(); }).map(function (e) {
          return [e.data("source"), e.data("target")];
        }) };
    },
    // the smallest label on screen, in CSS pixels (tests and the latency benchmark read it)
    minLabelPx: function () {
      var cy = state.cy;
      if (!cy || !cy.nodes().length) { return null; }
      var z = cy.zoom();
      return Math.min.apply(null, cy.nodes().map(function (n) { return parseFloat(n.style("font-size")) * z; }));
    }
  };
  poll();
})();

/* kg-editor glue: attaches cytoscape-edgehandles (drag to connect), click-to-connect,
 * keyboard shortcuts, suggestion previews and focus helpers to the live Cytoscape
 * instance. Every edit is sent to the server (dash_clientside.set_props on the
 * kg-client-action store), which decides whether it is allowed. */
(function () {
  "use strict";
  var CANVAS = "kg-canvas", ACTION = "kg-client-action", CONNECT = "kg-connect-mode";
  var state = { cy: null, eh: null, connect: false, pending: null, nonce: 0 };

  function send(payload) {
    state.nonce += 1;
    payload.nonce = Date.now() + ":" + state.nonce;
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props(ACTION, { data: payload });
    }
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
    var e = state.cy.edges(":selected").filter(function (x) { return !x.hasClass("ghost") && !x.hasClass("refused"); });
    if (e.length === 0) { return null; }
    return { source: e[0].data("source"), target: e[0].data("target") };
  }

  function attach(cy) {
    state.cy = cy;
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
    if ((key === "Delete" || key === "Backspace") && sel) {
      ev.preventDefault();
      send({ kind: "remove", source: sel.source, target: sel.target, via: "keyboard" });
    } else if ((key === "r" || key === "R") && sel) {
      ev.preventDefault();
      send({ kind: "reverse", source: sel.source, target: sel.target, via: "keyboard" });
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
    isConnect: function () { return state.connect; }
  };
  poll();
})();

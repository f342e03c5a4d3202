/* kg-editor teaching mode: paints the server's answer on the live Cytoscape canvas.
 * The server sends a small JSON payload (kg-teach-canvas store): each node's posterior
 * (pie slice + label with %), the shift from the prior (outline colour), the findings,
 * the active trails and the open back-door paths (edge classes). Re-applied whenever the
 * editor replaces the elements (an edit), removed when teaching mode is switched off. */
(function () {
  "use strict";
  var CANVAS = "kg-canvas";
  var CLASSES = "teach teach-up teach-down teach-obs teach-end teach-trail teach-backdoor teach-dim";
  var last = null, timer = null, hooked = null;

  function findCy() {
    var el = document.getElementById(CANVAS);
    return el && el._cyreg && el._cyreg.cy ? el._cyreg.cy : null;
  }

  function paint(cy, d) {
    cy.batch(function () {
      cy.elements().removeClass(CLASSES);
      cy.nodes().forEach(function (n) {
        if (n.data("teach_label") !== undefined) {
          n.removeData("teach_label teach_pct teach_p teach_state teach_shift teach_observed teach_post");
        }
      });
      if (!d || !d.on) { return; }
      var nodes = d.nodes || {};
      cy.nodes().forEach(function (n) {
        var r = nodes[n.id()];
        if (!r) { return; }
        n.data({ teach_label: r.label, teach_pct: r.pct, teach_p: r.p, teach_state: r.state,
                 teach_shift: r.shift, teach_observed: r.observed, teach_post: r.posterior });
        n.addClass("teach");
        if (r.observed !== null && r.observed !== undefined) { n.addClass("teach-obs"); }
        else if (r.shift >= 0.005) { n.addClass("teach-up"); }
        else if (r.shift <= -0.005) { n.addClass("teach-down"); }
      });
      var on = function (list, cls) {
        (list || []).forEach(function (id) { cy.getElementById(id).addClass(cls); });
      };
      on(d.trail_edges, "teach-trail");
      on(d.backdoor_edges, "teach-backdoor");
      on(d.ends, "teach-end");
      if ((d.trail_edges || []).length || (d.backdoor_edges || []).length) {
        cy.edges().not(".teach-trail, .teach-backdoor").addClass("teach-dim");
      }
    });
  }

  function apply(d) {
    last = d;
    var cy = findCy();
    if (!cy) { return; }
    hook(cy);
    paint(cy, d);
    document.body.classList.toggle("kg-teaching", !!(d && d.on));
  }

  // the editor re-sends the elements after an edit: paint the new ones again
  function hook(cy) {
    if (hooked === cy) { return; }
    hooked = cy;
    cy.on("add", function () {
      if (!last || !last.on) { return; }
      if (timer) { window.clearTimeout(timer); }
      timer = window.setTimeout(function () { timer = null; paint(cy, last); }, 30);
    });
  }

  window.kgTeach = {
    apply: apply,
    /* for tests: what is painted now (plain data) */
    painted: function () {
      var cy = findCy();
      if (!cy) { return null; }
      return {
        trail: cy.edges(".teach-trail").map(function (e) { return e.id(); }).sort(),
        backdoor: cy.edges(".teach-backdoor").map(function (e) { return e.id(); }).sort(),
        observed: cy.nodes(".teach-obs").map(function (n) { return n.id(); }).sort(),
        teach: cy.nodes(".teach").length
      };
    }
  };
})();

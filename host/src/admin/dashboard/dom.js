// DOM and SVG helpers, and the one tooltip every chart shares: any element
// with a data-tip attribute shows it on hover or keyboard focus.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  for (const child of children) node.append(child);
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "dataset") Object.assign(node.dataset, v); else node.setAttribute(k, v);
  }
}

(function tooltip() {
  let shown = null;
  function tip() { return document.getElementById("tip"); }
  function show(target, x, y) {
    const box = tip();
    if (!box) return;
    shown = target;
    box.textContent = target.dataset.tip;
    box.hidden = false;
    // Beside the pointer, kept inside the viewport (CSSOM, allowed by the CSP).
    const pad = 12, w = box.offsetWidth, h = box.offsetHeight;
    const left = Math.min(x + pad, window.innerWidth - w - 4);
    const top = y + pad + h > window.innerHeight ? y - h - pad : y + pad;
    box.style.left = Math.max(4, left) + window.scrollX + "px";
    box.style.top = Math.max(4, top) + window.scrollY + "px";
  }
  function hide() { shown = null; const box = tip(); if (box) box.hidden = true; }
  document.addEventListener("mouseover", (e) => {
    const target = e.target.closest && e.target.closest("[data-tip]");
    if (target) show(target, e.clientX, e.clientY); else if (shown) hide();
  });
  document.addEventListener("mousemove", (e) => { if (shown) show(shown, e.clientX, e.clientY); });
  document.addEventListener("focusin", (e) => {
    const target = e.target.closest && e.target.closest("[data-tip]");
    if (!target) return;
    const r = target.getBoundingClientRect();
    show(target, r.left + r.width / 2, r.bottom);
  });
  document.addEventListener("focusout", hide);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hide(); });
})();

// precis's page: sends the article to this server's API and shows what comes back.
// Everything shown is set as text (textContent, createTextNode), never parsed as HTML, so an
// article or a summary cannot inject markup; the server's Content-Security-Policy forbids inline
// scripts and any other origin as a second line of defence.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const state = { apiKey: "", check: false, fileKind: null };

  /** An element with text children only (strings become text nodes). */
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) node.append(typeof child === "string" ? document.createTextNode(child) : child);
    return node;
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  function setBusy(busy) {
    $("summarize").disabled = busy;
    $("compare").disabled = busy;
    $("busy").hidden = !busy;
  }

  async function call(path, body) {
    const headers = { "Content-Type": "application/json" };
    const key = $("api-key").value.trim();
    if (key) headers.Authorization = "Bearer " + key;
    const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.status === 401) $("key-row").hidden = false;
    if (!response.ok) {
      const detail = data && data.error && data.error.message ? data.error.message : response.statusText;
      const wait = response.headers.get("Retry-After");
      throw new Error(`${response.status}: ${detail}` + (wait ? ` (retry in ${wait} s)` : ""));
    }
    return data;
  }

  /** The article fields of a request: a URL when one is given, else the text box. */
  function articleFields() {
    const url = $("article-url").value.trim();
    if (url) return { url };
    const text = $("article-text").value;
    if (!text.trim()) throw new Error("Paste an article, drop a file or give a URL first.");
    return state.fileKind === "html" ? { html: text } : { text };
  }

  async function readFile(file) {
    const text = await file.text();
    $("article-text").value = text;
    $("article-url").value = "";
    state.fileKind = /\.html?$/i.test(file.name) ? "html" : "text";
    $("file-note").textContent = `read ${file.name} (${text.length} characters, as ${state.fileKind === "html" ? "HTML" : "text"})`;
  }

  /** `text` with the flagged character ranges wrapped in <mark> (offsets in code points). */
  function markedText(text, flagged) {
    const chars = Array.from(text);
    const fragment = document.createDocumentFragment();
    let at = 0;
    const spans = flagged.filter((s) => s.start < s.end && s.end <= chars.length).sort((a, b) => a.start - b.start);
    for (const span of spans) {
      if (span.start < at) continue;
      fragment.append(document.createTextNode(chars.slice(at, span.start).join("")));
      const mark = el("mark", "", chars.slice(span.start, span.end).join(""));
      mark.title = span.reason;
      fragment.append(mark);
      at = span.end;
    }
    fragment.append(document.createTextNode(chars.slice(at).join("")));
    return fragment;
  }

  /** Marks what the article does not support in the outputs a model wrote (`record.faithfulness`,
   *  from the server's guard; null for the extractive engine, whose sentences are the article's). */
  function markUnsupported(record) {
    const checked = record.faithfulness;
    if (!checked) return;
    if (checked.headline) $("headline").replaceChildren(markedText(record.headline, checked.headline.unsupported));
    if (checked.abstract) $("abstract").replaceChildren(markedText(record.abstract, checked.abstract.unsupported));
    const bulletNodes = Array.from($("bullets-list").children);
    (checked.bullets || []).forEach((check, i) => {
      if (bulletNodes[i]) bulletNodes[i].replaceChildren(markedText(record.bullets[i], check.unsupported));
    });
  }

  function fillList(list, items, className) {
    list.replaceChildren(...items.map((item) => el("li", className, item)));
  }

  function modelsLine(models) {
    return models.length ? models.map((m) => `${m.id} (${m.role})`).join(", ") : "extractive engine";
  }

  function showSummary(record) {
    $("headline").textContent = record.headline;
    $("abstract").textContent = record.abstract;
    fillList($("bullets-list"), record.bullets);
    const stats = record.stats;
    $("summary-meta").textContent =
      `${modelsLine(record.models)} · article ${stats.input_words} words, ${stats.input_sentences} sentences · ` +
      `abstract ${stats.output_words} words · ${record.timings_ms.total} ms` +
      (stats.batch_size ? ` · model batch of ${stats.batch_size}` : "") +
      (record.faithfulness ? ` · faithfulness ${record.faithfulness.score.toFixed(2)} (marked: not in the article)` : "");
    fillList($("summary-warnings"), record.warnings);
    $("summary").hidden = false;
  }

  function count(number, noun) {
    return `${number} ${noun}${number === 1 ? "" : "s"}`;
  }

  function percent(share) {
    return `${(100 * share).toFixed(1)}%`;
  }

  function showComparison(record) {
    const cards = record.variants.map((variant) => {
      const numbers = el(
        "p",
        "numbers",
        `${count(variant.words, "word")} · ${count(variant.sentences, "sentence")} · compression ${percent(variant.compression)} · novel bigrams ${variant.novel_bigrams === null ? "n/a" : percent(variant.novel_bigrams)}` +
          (variant.tokens === null ? "" : ` · ${variant.tokens} tokens`),
      );
      if (!variant.budget_met) numbers.append(" · ", el("span", "missed", "budget missed"));
      const card = el("article", "variant", el("h3", "", variant.label), numbers, el("p", "text", variant.text));
      if (variant.warnings.length) {
        const warnings = el("ul", "warnings");
        fillList(warnings, variant.warnings);
        card.append(warnings);
      }
      return card;
    });
    $("variants").replaceChildren(...cards);
    drawChart(record.variants);
    $("compare-meta").textContent = `${modelsLine(record.models)} · article ${record.stats.input_words} words · ${record.timings_ms.total} ms`;
    fillList($("compare-warnings"), record.warnings);
    $("comparison").hidden = false;
  }

  /** Three bar panels — words, sentences, compression — with one bar per length. */
  function drawChart(variants) {
    const chart = $("chart");
    const measures = [
      { key: "words", title: "Words", value: (v) => v.words, show: (v) => String(v.words) },
      { key: "sentences", title: "Sentences", value: (v) => v.sentences, show: (v) => String(v.sentences) },
      { key: "compression", title: "Compression", value: (v) => v.compression, show: (v) => percent(v.compression) },
    ];
    const panelWidth = 300, height = 240, top = 40, bottom = 36, gap = 10;
    chart.setAttribute("viewBox", `0 0 ${panelWidth * measures.length} ${height}`);
    chart.replaceChildren();
    measures.forEach((measure, panel) => {
      const left = panel * panelWidth + 20;
      const width = panelWidth - 40;
      const group = svg("g", { class: `panel panel-${measure.key}` });
      group.append(svg("text", { class: "panel-title", x: left, y: 20 }, measure.title));
      group.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: left + width, y2: height - bottom }));
      const largest = Math.max(...variants.map(measure.value), 1e-9);
      const barWidth = Math.max(8, (width - gap * (variants.length + 1)) / Math.max(variants.length, 1));
      variants.forEach((variant, index) => {
        const x = left + gap + index * (barWidth + gap);
        const barHeight = ((height - top - bottom) * measure.value(variant)) / largest;
        const y = height - bottom - barHeight;
        const bar = svg("rect", { class: `bar bar-${measure.key}`, x, y, width: barWidth, height: Math.max(barHeight, 0.5) });
        bar.append(svg("title", {}, `${variant.label}: ${measure.show(variant)}`));
        group.append(bar);
        group.append(svg("text", { class: "value", x: x + barWidth / 2, y: y - 4, "text-anchor": "middle" }, measure.show(variant)));
        group.append(svg("text", { class: "label", x: x + barWidth / 2, y: height - bottom + 16, "text-anchor": "middle" }, variant.label));
      });
      chart.append(group);
    });
  }

  /** "25, 60,120" → [25, 60, 120]; anything else is a message. */
  function wordBudgets(value) {
    const parts = value.split(",").map((part) => part.trim()).filter(Boolean);
    const numbers = parts.map((part) => Number(part));
    if (numbers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`"${value}" is not a list of word counts, e.g. 25,60,120`);
    return numbers;
  }

  async function summarize(event) {
    event.preventDefault();
    showError("");
    setBusy(true);
    try {
      const fields = articleFields();
      const record = await call("/v1/summarize", { ...fields, length: $("length").value, bullets: Number($("bullets").value) });
      showSummary(record);
      markUnsupported(record);
    } catch (error) {
      showError(error.message);
    } finally {
      setBusy(false);
    }
  }

  async function compare() {
    showError("");
    setBusy(true);
    try {
      const body = articleFields();
      const words = wordBudgets($("compare-words").value);
      if (words.length) body.words = words;
      showComparison(await call("/v1/compare", body));
    } catch (error) {
      showError(error.message);
    } finally {
      setBusy(false);
    }
  }

  async function watchStatus() {
    try {
      const response = await fetch("/readyz");
      const ready = await response.json();
      state.check = Boolean(ready.check);
      if (ready.ready) {
        $("status").textContent = `ready · ${ready.engine} engine` + (state.check ? " · faithfulness check on" : "");
        return;
      }
      $("status").textContent = `${ready.reason}…`;
    } catch (_) {
      $("status").textContent = "the server does not answer";
    }
    setTimeout(watchStatus, 2000);
  }

  function start() {
    $("article-form").addEventListener("submit", summarize);
    $("compare").addEventListener("click", compare);
    $("article-file").addEventListener("change", (event) => {
      const file = event.target.files[0];
      if (file) readFile(file).catch((error) => showError(`cannot read ${file.name}: ${error.message}`));
    });
    const box = $("article-text");
    box.addEventListener("dragover", (event) => {
      event.preventDefault();
      box.classList.add("dragging");
    });
    box.addEventListener("dragleave", () => box.classList.remove("dragging"));
    box.addEventListener("drop", (event) => {
      event.preventDefault();
      box.classList.remove("dragging");
      const file = event.dataTransfer.files[0];
      if (file) readFile(file).catch((error) => showError(`cannot read ${file.name}: ${error.message}`));
    });
    box.addEventListener("input", () => {
      if (!box.value.trim()) {
        state.fileKind = null;
        $("file-note").textContent = "";
      }
    });
    watchStatus();
  }

  start();
})();

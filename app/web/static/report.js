// The owner's daily report as a page: /report?date=YYYY-MM-DD (yesterday when left out), from
// GET /api/report/page with the API token (session.js). The service words everything in its own
// language (LOCALE); this page only lays it out and fetches the chart with the token.
import { html, render, useEffect, useState } from "./vendor/htm-preact-standalone.mjs";
import { requestJson } from "./format.js";
import { TOKEN_KEY, TokenForm, initialToken, useAuthorisedImage } from "./session.js";

const API = "/api/report/page";

function dayAsked() {
  const day = new URLSearchParams(window.location.search).get("date");
  return day && /^\d{4}-\d{2}-\d{2}$/.test(day) ? day : null;
}

// A wide table (cards) becomes one card per row on a phone; a narrow one stays a table.
function FigureTable({ testid, heads, rows, empty, cards = false }) {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table class=${cards ? "grid cards-on-phone" : "grid"} data-testid=${testid}>
    <thead><tr>${heads.map((head, i) => html`<th key=${i} class=${i ? "num" : ""}>${head}</th>`)}</tr></thead>
    <tbody>
      ${rows.map(
        (row, r) => html`<tr key=${r}>
          ${row.map((cell, i) => html`<td key=${i} class=${i ? "num" : "strong"} data-label=${heads[i]}>${cell}</td>`)}
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function Report({ view, token }) {
  const w = view.words;
  const chart = useAuthorisedImage(view.chart, token);
  return html`<div class="page" data-testid="report-page" data-date=${view.date}>
    <header class="topbar">
      <div class="brand">storeops <span>${view.title}</span></div>
      <nav class="topbar-links">
        <a data-testid="report-previous" href=${`/report?date=${view.previous}`}>${w.previous}</a>
        ${view.next && html`<a data-testid="report-next" href=${`/report?date=${view.next}`}>${w.next}</a>`}
        <a href="/dashboard">${w.dashboard}</a>
      </nav>
    </header>
    <main class="report-body">
      <section class="card">
        <h1 class="report-title" data-testid="report-title">${view.title}</h1>
        ${!view.complete && html`<p class="muted">${w.so_far}</p>`}
        <ul class="report-lines" data-testid="report-lines">
          ${view.lines.map((line, i) => html`<li key=${i}>${line}</li>`)}
        </ul>
      </section>
      <section class="card">
        <h2 class="card-title">${w.chart}</h2>
        ${chart
          ? html`<a href=${chart} target="_blank" rel="noopener" title=${w.chart_alt}>
              <img class="report-chart" data-testid="report-chart" src=${chart} alt=${w.chart_alt} />
            </a>`
          : html`<p class="empty">…</p>`}
      </section>
      <div class="report-tables">
        <section class="card">
          <h2 class="card-title">${w.orders}</h2>
          <${FigureTable} testid="report-orders" heads=${[w.channel, w.count]} rows=${view.orders} empty=${w.no_orders} />
        </section>
        <section class="card">
          <h2 class="card-title">${w.channels}</h2>
          <${FigureTable} testid="report-channels" heads=${[w.channel, w.uptime, w.down]} rows=${view.channels} empty=${w.no_channels} />
        </section>
        <section class="card wide">
          <h2 class="card-title">${w.stores}</h2>
          <${FigureTable}
            testid="report-stores"
            heads=${[w.store, w.asked, w.answered, w.timeouts, w.missing, w.defective, w.rate, w.median]}
            rows=${view.stores}
            empty=${w.no_stores}
            cards
          />
        </section>
      </div>
    </main>
  </div>`;
}

function App() {
  const [token, setToken] = useState(initialToken);
  const [formMessage, setFormMessage] = useState(null);
  const [view, setView] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    if (!token) return;
    const day = dayAsked();
    requestJson("GET", day ? `${API}?date=${day}` : API, { headers: { Authorization: `Bearer ${token}` } })
      .then((answer) => {
        setView(answer);
        setProblem(null);
      })
      .catch((failure) => {
        if (failure.status === 401) {
          sessionStorage.removeItem(TOKEN_KEY);
          setToken(null);
          setFormMessage("Токен не подошёл (401): введите API_TOKEN ещё раз.");
        } else setProblem(`Отчёт не получен: ${failure.message}`);
      });
  }, [token]);
  if (!token) {
    return html`<${TokenForm}
      title="Отчёт storeops за день"
      message=${formMessage}
      onToken=${(value) => {
        sessionStorage.setItem(TOKEN_KEY, value);
        setFormMessage(null);
        setToken(value);
      }}
    />`;
  }
  if (problem) return html`<p class="boot form-error" data-testid="report-error" role="alert">${problem}</p>`;
  if (!view) return html`<p class="boot" data-testid="loading">Загрузка…</p>`;
  return html`<${Report} view=${view} token=${token} />`;
}

render(html`<${App} />`, document.getElementById("app"));

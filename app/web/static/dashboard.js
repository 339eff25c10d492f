// The operator's dashboard: read-only health of the running service, from GET /api/dashboard
// every 5 s with the API token as a bearer (session.js keeps it). Its texts, channels and stores come worded by
// the service in its LOCALE, by the topology's titles, and so do the page's own words (headings, buttons, column
// names): the service serves the page with them (app/http/dashboard_words.py). The page names nothing itself.
import { html, render, useEffect, useState } from "./vendor/htm-preact-standalone.mjs";
import { requestJson } from "./format.js";
import { OrderSearch } from "./order_search.js";
import { TOKEN_KEY, TokenForm, initialToken } from "./session.js";

const API = "/api/dashboard";
const POLL_MS = 5000;
const QUEUE_AGE_WARN_S = 300; // an outbox row older than this means the channel is falling behind
const W = JSON.parse(document.getElementById("words").textContent);

// A word with its {names} filled in.
export function say(key, values = {}) {
  return String(W[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// "3 s", "12 min", "1 h 5 min", "2 d 4 h": short, like an operator writes it, in the page's language.
function duration(seconds) {
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  if (s < 60) return say("seconds", { n: s });
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return say("minutes", { n: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? say("hours_minutes", { h: hours, m: minutes % 60 }) : say("hours", { n: hours });
  const days = Math.floor(hours / 24);
  return hours % 24 ? say("days_hours", { d: days, h: hours % 24 }) : say("days", { n: days });
}

// "in 12 min" / "12 min ago" / "now", relative to nowMs (the server's clock if known).
function relative(iso, nowMs) {
  if (!iso) return "";
  const delta = (Date.parse(iso) - nowMs) / 1000;
  if (Math.abs(delta) < 30) return say("now");
  return delta > 0 ? say("in", { duration: duration(delta) }) : say("ago", { duration: duration(delta) });
}

const DATE_TIME = new Intl.DateTimeFormat(W.date_locale, {
  timeZone: "Europe/Moscow", // the shop's business time, whatever the browser's zone
  day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

export function dateTime(value) {
  if (!value) return "";
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : DATE_TIME.format(date);
}

function channelHealth(channel) {
  if (channel.circuit_open) return ["bad", say("health_bad")];
  if (channel.paused) return ["paused", say("health_paused")];
  if (channel.failures_in_row > 0) return ["warn", say("health_failing")];
  if ((channel.oldest_age_s ?? 0) > QUEUE_AGE_WARN_S) return ["warn", say("health_behind")];
  return ["ok", say("health_ok")];
}

function ChannelCard({ channel }) {
  const [health, label] = channelHealth(channel);
  return html`<div class=${`channel-card health-${health}`} data-testid=${`channel-card-${channel.name}`} data-health=${health}>
    <div class="channel-name">${channel.title}</div>
    <div class="channel-state">${label}</div>
    <div class="channel-queue">
      ${channel.outbox_depth
        ? channel.oldest_age_s != null
          ? say("queue_oldest", { count: channel.outbox_depth, age: duration(channel.oldest_age_s) })
          : say("queue", { count: channel.outbox_depth })
        : say("queue_empty")}
    </div>
    ${channel.failures_in_row > 0 && html`<div class="channel-queue">${say("failures", { count: channel.failures_in_row })}</div>`}
  </div>`;
}

// Titles and who answers come worded by the service (from each task's kind and payload), soonest deadline first.
function Tasks({ tasks, now }) {
  return html`<section class="card">
    <h2 class="card-title">${say("tasks")}</h2>
    ${tasks.length === 0
      ? html`<p class="empty">${say("tasks_none")}</p>`
      : html`<table class="grid cards-on-phone" data-testid="tasks">
          <thead><tr><th>${say("task_due")}</th><th>${say("task_what")}</th><th>${say("task_who")}</th><th>${say("task_state")}</th></tr></thead>
          <tbody>
            ${tasks.map((task) => {
              const late = Date.parse(task.deadline) < now;
              return html`<tr key=${task.id} data-testid=${`task-${task.id}`}>
                <td data-label=${say("task_due")} class=${late ? "when late" : "when"} title=${dateTime(task.deadline)}>
                  ${late ? say("overdue", { duration: duration((now - Date.parse(task.deadline)) / 1000) }) : relative(task.deadline, now)}
                </td>
                <td data-label=${say("task_what")} class="task-title">${task.title}</td>
                <td data-label=${say("task_who")}>${task.who}</td>
                <td data-label=${say("task_state")}>${W[`task_${task.state}`] || task.state}</td>
              </tr>`;
            })}
          </tbody>
        </table>`}
  </section>`;
}

function Alerts({ alerts, now }) {
  const ordered = [...alerts].sort((a, b) => (a.resolved_at ? 1 : 0) - (b.resolved_at ? 1 : 0));
  return html`<section class="card">
    <h2 class="card-title">${say("alerts")}</h2>
    ${ordered.length === 0 && html`<p class="empty">${say("alerts_none")}</p>`}
    <ul class="alerts" data-testid="alerts">
      ${ordered.map(
        (alert) => html`<li key=${alert.key} class=${alert.resolved_at ? "alert resolved" : "alert open"} data-testid=${`alert-${alert.key}`}>
          <span class="badge">${say(alert.resolved_at ? "alert_closed" : "alert_open")}</span>
          ${alert.text}
          ${alert.count > 1 && html`<span class="count">×${alert.count}</span>`}
          <span class="muted">
            ${say("alert_since", { at: dateTime(alert.opened_at), ago: relative(alert.opened_at, now) })}${alert.resolved_at ? say("alert_closed_at", { at: dateTime(alert.resolved_at) }) : ""}
          </span>
        </li>`,
      )}
    </ul>
  </section>`;
}

function Drift({ drift }) {
  return html`<section class="card">
    <h2 class="card-title">${say("drift")}</h2>
    ${drift.length === 0
      ? html`<p class="empty">${say("drift_none")}</p>`
      : html`<table class="grid" data-testid="drift">
          <thead><tr><th>${say("drift_channel")}</th><th>${say("drift_when")}</th><th class="num">${say("drift_corrected")}</th></tr></thead>
          <tbody>
            ${drift.map(
              (row, i) => html`<tr key=${i} title=${row.summary || ""}>
                <td>${row.title}</td>
                <td>${row.at ? dateTime(row.at) : "—"}</td>
                <td class="num">${row.corrected}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

const ORDER_COUNTERS = ["unfillable_open", "returns_awaiting", "to_move_on", "move_retrying", "move_refused"];
const TROUBLE_COUNTERS = new Set(["move_retrying", "move_refused"]); // need someone when above zero
const TROUBLE_STEP = /cancel|refused|defective|not_received|dropped/;

function OrderSteps({ steps, counters }) {
  return html`<section class="card wide" data-testid="orders-panel">
    <h2 class="card-title">${say("steps")}</h2>
    <div class="order-counters" data-testid="order-counters">
      ${ORDER_COUNTERS.map((name) => {
        const value = counters?.[name] ?? 0;
        const trouble = value > 0 && TROUBLE_COUNTERS.has(name);
        return html`<div key=${name} class=${trouble ? "order-counter trouble" : "order-counter"} data-testid=${`order-counter-${name}`}>
          ${say(name)}: <span class="order-counter-value">${value}</span>
        </div>`;
      })}
    </div>
    ${steps.length === 0
      ? html`<p class="empty">${say("steps_none")}</p>`
      : html`<table class="grid" data-testid="order-events">
          <thead><tr><th>${say("step_when")}</th><th>${say("step_order")}</th><th>${say("step_what")}</th></tr></thead>
          <tbody>
            ${steps.map(
              (step, i) => html`<tr key=${i} class=${TROUBLE_STEP.test(step.kind) ? "order-step trouble" : "order-step"}
                  data-testid=${`order-event-${i}`} data-kind=${step.kind}>
                <td class="when">${dateTime(step.at)}</td>
                <td class="when">${step.channel_title} ${step.external_id} <span class="muted">#${step.order_id}</span></td>
                <td>${step.text}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

// Clients' money (GET /api/money/liquidity's shape, in the dashboard's data once any order has money): what falls
// due week by week against what the earmarks hold, and the reserves over every order. Sums are roubles.
const MONEY = new Intl.NumberFormat(W.date_locale, { style: "currency", currency: "RUB", minimumFractionDigits: 2 });
const AMOUNT = new Intl.NumberFormat(W.date_locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const DAY = new Intl.DateTimeFormat(W.date_locale, { timeZone: "UTC", day: "2-digit", month: "2-digit" });
const rub = (text) => MONEY.format(Number(text || 0));
const day = (iso) => DAY.format(new Date(`${iso}T00:00:00Z`));
const RESERVES = ["planned", "reserved", "drawn", "available", "unfunded", "absorbed", "unallocated"];

function byCurrency(week) {
  return Object.entries(week.by_currency || {})
    .filter(([currency]) => currency !== "RUB")
    .map(([currency, amount]) => `${AMOUNT.format(Number(amount))} ${currency}`)
    .join(", ");
}

function Liquidity({ liquidity }) {
  if (!liquidity) return null;
  const weeks = (liquidity.weeks || []).filter((week, i) => i === 0 || week.payments > 0);
  const overdue = liquidity.overdue;
  const reserves = liquidity.reserves || {};
  return html`<section class="card wide" data-testid="liquidity">
    <h2 class="card-title">${say("money")}</h2>
    ${overdue?.payments > 0 && html`<p class="liquidity-overdue" data-testid="liquidity-overdue">
      ${say("money_overdue", { count: overdue.payments, amount: rub(overdue.due_rub) })}</p>`}
    ${weeks.every((week) => week.payments === 0)
      ? html`<p class="empty">${say("money_no_weeks")}</p>`
      : html`<table class="grid cards-on-phone" data-testid="liquidity-weeks">
          <thead><tr><th>${say("money_week")}</th><th class="num">${say("money_due")}</th><th class="num">${say("money_covered")}</th>
            <th class="num">${say("money_waiting")}</th><th class="num">${say("money_planned")}</th></tr></thead>
          <tbody>
            ${weeks.map((week, i) => {
              const other = byCurrency(week);
              const waiting = Number(week.waiting_rub) > 0;
              return html`<tr key=${week.starts} data-testid=${`liquidity-week-${i}`} class=${waiting ? "trouble" : ""}>
                <td data-label=${say("money_week")} class="when">
                  ${say(i === 0 ? "money_this_week" : "money_week_of", { day: day(week.starts) })}
                  ${other && html`<div class="muted">${other}</div>`}
                  ${week.unpriced > 0 && html`<div class="muted">${say("money_unpriced", { count: week.unpriced })}</div>`}
                </td>
                <td data-label=${say("money_due")} class="num">${rub(week.due_rub)}</td>
                <td data-label=${say("money_covered")} class="num">${rub(week.covered_rub)}</td>
                <td data-label=${say("money_waiting")} class="num">${rub(week.waiting_rub)}</td>
                <td data-label=${say("money_planned")} class="num">${rub(week.planned_rub)}</td>
              </tr>`;
            })}
          </tbody>
        </table>`}
    <h3 class="liquidity-reserves-title">${say("money_reserves")}</h3>
    <dl class="liquidity-reserves" data-testid="liquidity-reserves">
      ${RESERVES.filter((name) => name !== "absorbed" || Number(reserves.absorbed) > 0).map(
        (name) => html`<div key=${name} data-testid=${`reserve-${name}`}><dt>${say(`reserve_${name}`)}</dt><dd>${rub(reserves[name])}</dd></div>`,
      )}
    </dl>
  </section>`;
}

// The owner's report has its own page (/report); the dashboard says the day's main figure and links to it.
function Report({ report }) {
  if (!report) return null;
  const today = report.date;
  const yesterday = new Date(Date.parse(`${today}T12:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return html`<section class="card" data-testid="report">
    <h2 class="card-title">${say("report")}</h2>
    <p data-testid="report-figures">${say("report_figures", {
      orders: report.orders?.total ?? 0, cancelled: report.cancelled_for_stock?.total ?? 0,
      prevented: report.oversells_prevented?.total ?? 0 })}</p>
    <p class="report-links">
      <a data-testid="report-today" href=${`/report?date=${today}`}>${say("report_today")}</a>
      <a data-testid="report-yesterday" href=${`/report?date=${yesterday}`}>${say("report_yesterday")}</a>
    </p>
  </section>`;
}

function Dashboard({ data, token, problem, fetchedAt, onLogout }) {
  const served = data.at || data.now; // the service's time: the sandbox's clock runs ahead of ours
  const skew = served ? Date.parse(served) - fetchedAt : 0;
  const now = Date.now() + skew;
  const onec = data.onec_last_update;
  return html`<div class="page dash" data-testid="dashboard">
    <header class="topbar">
      <div class="brand">storeops <span>${say("brand")}</span></div>
      <div class="muted" data-testid="updated-at">${say("updated", { at: dateTime(new Date(fetchedAt + skew)) })}</div>
      ${problem && html`<div class="offline" data-testid="dashboard-error">${problem}</div>`}
      <button class="tool" data-testid="logout" onClick=${onLogout}>${say("logout")}</button>
    </header>
    <main class="dash-grid">
      <section class="card wide">
        <h2 class="card-title">${say("channels")}</h2>
        <div class="channel-cards" data-testid="channels">
          ${(data.channels || []).map((channel) => html`<${ChannelCard} key=${channel.name} channel=${channel} />`)}
        </div>
        <p class="onec" data-testid="onec-last-update">
          ${onec ? say("onec", { at: dateTime(onec), ago: relative(onec, now) }) : say("onec_never")}
        </p>
      </section>
      <${OrderSearch} token=${token} say=${say} dateTime=${dateTime} />
      <${Liquidity} liquidity=${data.liquidity} />
      <${OrderSteps} steps=${data.order_events || []} counters=${data.orders} />
      <${Tasks} tasks=${data.tasks || []} now=${now} />
      <${Alerts} alerts=${data.alerts || []} now=${now} />
      <${Drift} drift=${data.drift || []} />
      <${Report} report=${data.report} />
    </main>
  </div>`;
}

function App() {
  const [token, setToken] = useState(initialToken);
  const [formMessage, setFormMessage] = useState(null);
  const [data, setData] = useState(null);
  const [fetchedAt, setFetchedAt] = useState(0);
  const [problem, setProblem] = useState(null);
  const logout = (message) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setData(null);
    setFormMessage(message);
  };
  useEffect(() => {
    if (!token) return undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const answer = await requestJson("GET", API, { headers: { Authorization: `Bearer ${token}` } });
        if (stopped) return;
        setData(answer);
        setFetchedAt(Date.now());
        setProblem(null);
      } catch (failure) {
        if (stopped) return;
        if (failure.status === 401) logout(say("token_refused"));
        else setProblem(say("refresh_failed", { error: failure.status === 0 ? say("offline") : failure.message }));
      }
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [token]);
  if (!token) {
    return html`<${TokenForm}
      title=${say("form_title")}
      words=${{ prompt: say("token_prompt"), submit: say("token_submit") }}
      message=${formMessage}
      onToken=${(value) => {
        sessionStorage.setItem(TOKEN_KEY, value);
        setFormMessage(null);
        setToken(value);
      }}
    />`;
  }
  if (!data) return html`<p class="boot" data-testid="loading">${problem || say("loading")}</p>`;
  return html`<${Dashboard} data=${data} token=${token} problem=${problem} fetchedAt=${fetchedAt} onLogout=${() => logout(null)} />`;
}

render(html`<${App} />`, document.getElementById("app"));

// The operator's dashboard: read-only health of the running service, from GET /api/dashboard
// every 5 s with the API token as a bearer (session.js keeps it). Its texts, channels and stores come worded by
// the service in its LOCALE, by the topology's titles: the page lays them out and names nothing itself.
import { html, render, useEffect, useState } from "./vendor/htm-preact-standalone.mjs";
import { dateTimeRu, durationRu, relativeRu, requestJson } from "./format.js";
import { OrderSearch } from "./order_search.js";
import { TOKEN_KEY, TokenForm, initialToken } from "./session.js";

const API = "/api/dashboard";
const POLL_MS = 5000;
const TASK_STATES = { open: "ждёт ответа", answered: "отвечена", expired: "время вышло", cancelled: "отменена" };
const QUEUE_AGE_WARN_S = 300; // an outbox row older than this means the channel is falling behind

function channelHealth(channel) {
  if (channel.circuit_open) return ["bad", "не отвечает: запросы приостановлены"];
  if (channel.paused) return ["paused", "на паузе"];
  if (channel.failures_in_row > 0) return ["warn", "ошибки при отправке"];
  if ((channel.oldest_age_s ?? 0) > QUEUE_AGE_WARN_S) return ["warn", "очередь отстаёт"];
  return ["ok", "работает"];
}

function ChannelCard({ channel }) {
  const [health, label] = channelHealth(channel);
  return html`<div class=${`channel-card health-${health}`} data-testid=${`channel-card-${channel.name}`} data-health=${health}>
    <div class="channel-name">${channel.title}</div>
    <div class="channel-state">${label}</div>
    <div class="channel-queue">
      ${channel.outbox_depth
        ? `в очереди ${channel.outbox_depth}${channel.oldest_age_s != null ? `, старейшему ${durationRu(channel.oldest_age_s)}` : ""}`
        : "очередь пуста"}
    </div>
    ${channel.failures_in_row > 0 && html`<div class="channel-queue">ошибок подряд: ${channel.failures_in_row}</div>`}
  </div>`;
}

// Titles and who answers come worded by the service (from each task's kind and payload), soonest deadline first.
function Tasks({ tasks, now }) {
  return html`<section class="card">
    <h2 class="card-title">Задачи людей</h2>
    ${tasks.length === 0
      ? html`<p class="empty">Открытых задач нет.</p>`
      : html`<table class="grid cards-on-phone" data-testid="tasks">
          <thead><tr><th>Срок</th><th>Что сделать</th><th>Кто отвечает</th><th>Состояние</th></tr></thead>
          <tbody>
            ${tasks.map((task) => {
              const late = Date.parse(task.deadline) < now;
              return html`<tr key=${task.id} data-testid=${`task-${task.id}`}>
                <td data-label="Срок" class=${late ? "when late" : "when"} title=${dateTimeRu(task.deadline)}>
                  ${late ? `просрочено на ${durationRu((now - Date.parse(task.deadline)) / 1000)}` : relativeRu(task.deadline, now)}
                </td>
                <td data-label="Что сделать" class="task-title">${task.title}</td>
                <td data-label="Кто отвечает">${task.who}</td>
                <td data-label="Состояние">${TASK_STATES[task.state] || task.state}</td>
              </tr>`;
            })}
          </tbody>
        </table>`}
  </section>`;
}

function Alerts({ alerts, now }) {
  const ordered = [...alerts].sort((a, b) => (a.resolved_at ? 1 : 0) - (b.resolved_at ? 1 : 0));
  return html`<section class="card">
    <h2 class="card-title">Оповещения</h2>
    ${ordered.length === 0 && html`<p class="empty">Оповещений не было.</p>`}
    <ul class="alerts" data-testid="alerts">
      ${ordered.map(
        (alert) => html`<li key=${alert.key} class=${alert.resolved_at ? "alert resolved" : "alert open"} data-testid=${`alert-${alert.key}`}>
          <span class="badge">${alert.resolved_at ? "закрыто" : "открыто"}</span>
          ${alert.text}
          ${alert.count > 1 && html`<span class="count">×${alert.count}</span>`}
          <span class="muted">
            с ${dateTimeRu(alert.opened_at)} (${relativeRu(alert.opened_at, now)})${alert.resolved_at ? `, закрыто ${dateTimeRu(alert.resolved_at)}` : ""}
          </span>
        </li>`,
      )}
    </ul>
  </section>`;
}

function Drift({ drift }) {
  return html`<section class="card">
    <h2 class="card-title">Расхождения с каналами</h2>
    ${drift.length === 0
      ? html`<p class="empty">Сверка расхождений не находила.</p>`
      : html`<table class="grid" data-testid="drift">
          <thead><tr><th>Канал</th><th>Когда</th><th class="num">Исправлено SKU</th></tr></thead>
          <tbody>
            ${drift.map(
              (row, i) => html`<tr key=${i} title=${row.summary || ""}>
                <td>${row.title}</td>
                <td>${row.at ? dateTimeRu(row.at) : "—"}</td>
                <td class="num">${row.corrected}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

// The orders' panel follows the service's LOCALE, as its texts (worded by the service) do.
const ORDER_WORDS = {
  ru: {
    title: "Заказы: последние события",
    empty: "Событий по заказам пока не было.",
    when: "Когда", order: "Заказ", what: "Что",
    unfillable_open: "Открытых вопросов «нет товара»",
    returns_awaiting: "Возвратов ждут приёмки",
    to_move_on: "Ждут передачи площадке",
    move_retrying: "из них после сбоя",
    move_refused: "Площадка отказала",
  },
  en: {
    title: "Orders: recent events",
    empty: "No order events yet.",
    when: "When", order: "Order", what: "What",
    unfillable_open: "Out-of-stock questions open",
    returns_awaiting: "Returns awaiting receipt",
    to_move_on: "Waiting to be moved on",
    move_retrying: "of them retrying after a failure",
    move_refused: "Refused by the marketplace",
  },
};
const ORDER_COUNTERS = ["unfillable_open", "returns_awaiting", "to_move_on", "move_retrying", "move_refused"];
const TROUBLE_COUNTERS = new Set(["move_retrying", "move_refused"]); // need someone when above zero
const TROUBLE_STEP = /cancel|refused|defective|not_received|dropped/;

function OrderSteps({ steps, counters, locale }) {
  const words = ORDER_WORDS[locale] || ORDER_WORDS.ru;
  return html`<section class="card wide" data-testid="orders-panel">
    <h2 class="card-title">${words.title}</h2>
    <div class="order-counters" data-testid="order-counters">
      ${ORDER_COUNTERS.map((name) => {
        const value = counters?.[name] ?? 0;
        const trouble = value > 0 && TROUBLE_COUNTERS.has(name);
        return html`<div key=${name} class=${trouble ? "order-counter trouble" : "order-counter"} data-testid=${`order-counter-${name}`}>
          ${words[name]}: <span class="order-counter-value">${value}</span>
        </div>`;
      })}
    </div>
    ${steps.length === 0
      ? html`<p class="empty">${words.empty}</p>`
      : html`<table class="grid" data-testid="order-events">
          <thead><tr><th>${words.when}</th><th>${words.order}</th><th>${words.what}</th></tr></thead>
          <tbody>
            ${steps.map(
              (step, i) => html`<tr key=${i} class=${TROUBLE_STEP.test(step.kind) ? "order-step trouble" : "order-step"}
                  data-testid=${`order-event-${i}`} data-kind=${step.kind} title=${step.kind}>
                <td class="when">${dateTimeRu(step.at)}</td>
                <td class="when">${step.channel_title} ${step.external_id} <span class="muted">#${step.order_id}</span></td>
                <td>${step.text}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
  </section>`;
}

// The owner's report has its own page (/report); the dashboard says the day's main figure and links to it.
function Report({ report }) {
  if (!report) return null;
  const today = report.date;
  const yesterday = new Date(Date.parse(`${today}T12:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return html`<section class="card" data-testid="report">
    <h2 class="card-title">Отчёт владельцу</h2>
    <p data-testid="report-figures">${`Сегодня на сейчас: заказов ${report.orders?.total ?? 0}, отказов из-за нехватки ${
      report.cancelled_for_stock?.total ?? 0}, предотвращено продаж без товара ${report.oversells_prevented?.total ?? 0}.`}</p>
    <p class="report-links">
      <a data-testid="report-today" href=${`/report?date=${today}`}>Отчёт за сегодня</a>
      <a data-testid="report-yesterday" href=${`/report?date=${yesterday}`}>Отчёт за вчера</a>
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
      <div class="brand">storeops <span>панель оператора</span></div>
      <div class="muted" data-testid="updated-at">обновлено ${dateTimeRu(new Date(fetchedAt + skew))}</div>
      ${problem && html`<div class="offline" data-testid="dashboard-error">${problem}</div>`}
      <button class="tool" data-testid="logout" onClick=${onLogout}>Выйти</button>
    </header>
    <main class="dash-grid">
      <section class="card wide">
        <h2 class="card-title">Каналы</h2>
        <div class="channel-cards" data-testid="channels">
          ${(data.channels || []).map((channel) => html`<${ChannelCard} key=${channel.name} channel=${channel} />`)}
        </div>
        <p class="onec" data-testid="onec-last-update">
          1С: ${onec ? html`последние остатки ${dateTimeRu(onec)} (${relativeRu(onec, now)})` : "остатков из 1С ещё не было"}
        </p>
      </section>
      <${OrderSearch} token=${token} locale=${data.locale} />
      <${OrderSteps} steps=${data.order_events || []} counters=${data.orders} locale=${data.locale} />
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
        if (failure.status === 401) logout("Токен не подошёл (401): введите API_TOKEN ещё раз.");
        else setProblem(`Не удалось обновить: ${failure.message}`);
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
      title="Панель оператора storeops"
      message=${formMessage}
      onToken=${(value) => {
        sessionStorage.setItem(TOKEN_KEY, value);
        setFormMessage(null);
        setToken(value);
      }}
    />`;
  }
  if (!data) return html`<p class="boot" data-testid="loading">${problem || "Загрузка…"}</p>`;
  return html`<${Dashboard} data=${data} token=${token} problem=${problem} fetchedAt=${fetchedAt} onLogout=${() => logout(null)} />`;
}

render(html`<${App} />`, document.getElementById("app"));

// The dashboard's order search: any number an order is known by (ours, the channel's, the client's
// phone) through GET /api/orders, each order with its status and why it waits (worded by the service in
// its LOCALE); clicking an order shows its history from GET /api/orders/{id}. An empty search lists the
// newest orders. Its styles are the "order search" block at the end of console.css.
import { html, useState } from "./vendor/htm-preact-standalone.mjs";
import { dateTimeRu, requestJson } from "./format.js";

const WORDS = {
  ru: {
    title: "Поиск заказа",
    placeholder: "Номер заказа (наш или канала) или телефон клиента",
    find: "Найти",
    more: "Ещё",
    none: "Ничего не нашлось.",
    order: "Заказ", status: "Статус", created: "Создан", total: "Сумма", waiting: "Что дальше",
    history: "История",
    loading: "Загрузка…",
    failed: "Не удалось найти",
  },
  en: {
    title: "Find an order",
    placeholder: "Order number (ours or the channel's) or the client's phone",
    find: "Find",
    more: "More",
    none: "Nothing found.",
    order: "Order", status: "Status", created: "Created", total: "Total", waiting: "What next",
    history: "History",
    loading: "Loading…",
    failed: "Search failed",
  },
};
const STATUSES = {
  ru: {
    reserved: "зарезервирован",
    awaiting_store_confirmation: "ждёт ответа магазина",
    partially_reserved: "зарезервирован частично",
    out_of_stock: "нет в наличии",
    cancelled: "отменён",
  },
  en: {
    reserved: "reserved",
    awaiting_store_confirmation: "awaiting a store",
    partially_reserved: "partly reserved",
    out_of_stock: "out of stock",
    cancelled: "cancelled",
  },
};
const HELD = new Set(["fraud_check", "carrier_refused", "missing_goods", "out_of_stock"]); // someone must act

function money(total, currency) {
  if (total == null) return "—";
  const amount = Number(total).toLocaleString("ru-RU", { minimumFractionDigits: 0, maximumFractionDigits: 2 });
  return currency === "RUB" ? `${amount} ₽` : `${amount} ${currency}`;
}

function History({ detail, words }) {
  if (!detail) return html`<p class="muted">${words.loading}</p>`;
  return html`<div class="order-find-detail">
    <div class="order-find-history-title">${words.history}</div>
    <ol class="order-find-history" data-testid=${`order-find-history-${detail.order_id}`}>
      ${detail.history.map(
        (entry, i) => html`<li key=${i} title=${entry.event}>
          <span class="when muted">${dateTimeRu(entry.at)}</span> ${entry.text || entry.event}
        </li>`,
      )}
    </ol>
  </div>`;
}

export function OrderSearch({ token, locale }) {
  const words = WORDS[locale] || WORDS.ru;
  const statuses = STATUSES[locale] || STATUSES.ru;
  const [typed, setTyped] = useState("");
  const [found, setFound] = useState(null);
  const [problem, setProblem] = useState(null);
  const [open, setOpen] = useState(null);
  const [detail, setDetail] = useState(null);
  const headers = { Authorization: `Bearer ${token}` };

  const search = async (cursor) => {
    const params = new URLSearchParams();
    if (typed.trim()) params.set("q", typed.trim());
    if (cursor) params.set("cursor", cursor);
    try {
      const answer = await requestJson("GET", `/api/orders?${params}`, { headers });
      setFound((before) => (cursor && before ? { ...answer, orders: [...before.orders, ...answer.orders] } : answer));
      setProblem(null);
      if (!cursor) setOpen(null);
    } catch (failure) {
      setProblem(`${words.failed}: ${failure.message}`);
    }
  };
  const toggle = async (orderId) => {
    if (open === orderId) {
      setOpen(null);
      return;
    }
    setOpen(orderId);
    setDetail(null);
    try {
      setDetail(await requestJson("GET", `/api/orders/${orderId}`, { headers }));
    } catch (failure) {
      setProblem(`${words.failed}: ${failure.message}`);
    }
  };

  return html`<section class="card wide order-find" data-testid="order-search">
    <h2 class="card-title">${words.title}</h2>
    <form class="order-find-form" onSubmit=${(e) => { e.preventDefault(); search(null); }}>
      <input type="search" data-testid="order-search-input" placeholder=${words.placeholder} value=${typed}
        onInput=${(e) => setTyped(e.currentTarget.value)} />
      <button type="submit" data-testid="order-search-submit">${words.find}</button>
    </form>
    ${problem && html`<p class="form-error" data-testid="order-search-error" role="alert">${problem}</p>`}
    ${found && found.orders.length === 0 && html`<p class="empty" data-testid="order-search-none">${words.none}</p>`}
    ${found && found.orders.length > 0 && html`<div class="table-wrap"><table class="grid order-find-results" data-testid="order-search-results">
      <thead><tr><th>${words.order}</th><th>${words.status}</th><th>${words.created}</th><th class="num">${words.total}</th><th>${words.waiting}</th></tr></thead>
      <tbody>
        ${found.orders.map((order) => html`
          <tr key=${order.order_id} class=${HELD.has(order.waiting_reason) ? "order-find-row held" : "order-find-row"}
              data-testid=${`order-found-${order.order_id}`} data-reason=${order.waiting_reason}
              aria-expanded=${String(open === order.order_id)} onClick=${() => toggle(order.order_id)}>
            <td class="when">${order.channel_title} ${order.external_id} <span class="muted">#${order.order_id}</span></td>
            <td><span class=${`status status-${order.status}`} title=${order.status}>${statuses[order.status] || order.status}</span></td>
            <td class="when">${dateTimeRu(order.created_at)}</td>
            <td class="num">${money(order.total, order.currency)}</td>
            <td class="order-find-waiting" data-testid=${`order-waiting-${order.order_id}`}>${order.waiting}</td>
          </tr>
          ${open === order.order_id && html`<tr key=${`${order.order_id}-history`} class="order-find-open">
            <td colspan="5"><${History} detail=${detail} words=${words} /></td>
          </tr>`}`)}
      </tbody>
    </table></div>`}
    ${found && found.next_cursor && html`<button type="button" class="order-find-more" data-testid="order-search-more"
      onClick=${() => search(found.next_cursor)}>${words.more}</button>`}
  </section>`;
}

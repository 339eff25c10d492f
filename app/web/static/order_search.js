// The dashboard's order search: any number an order is known by (ours, the channel's, the client's
// phone) through GET /api/orders, each order with its status and why it waits (worded by the service in
// its LOCALE); clicking an order shows its history from GET /api/orders/{id}. An empty search lists the
// newest orders. Its words are the dashboard's (``say``, from the service); its styles are the "order search"
// block at the end of console.css.
import { html, useState } from "./vendor/htm-preact-standalone.mjs";
import { requestJson } from "./format.js";

const HELD = new Set(["fraud_check", "carrier_refused", "missing_goods", "out_of_stock"]); // someone must act

function money(total, currency, tag) {
  if (total == null) return "—";
  const amount = Number(total).toLocaleString(tag, { minimumFractionDigits: 0, maximumFractionDigits: 2 });
  return currency === "RUB" ? `${amount} ₽` : `${amount} ${currency}`;
}

function History({ detail, say, dateTime }) {
  if (!detail) return html`<p class="muted">${say("loading")}</p>`;
  return html`<div class="order-find-detail">
    <div class="order-find-history-title">${say("found_history")}</div>
    <ol class="order-find-history" data-testid=${`order-find-history-${detail.order_id}`}>
      ${detail.history.map(
        (entry, i) => html`<li key=${i}>
          <span class="when muted">${dateTime(entry.at)}</span> ${entry.text}
        </li>`,
      )}
    </ol>
  </div>`;
}

export function OrderSearch({ token, say, dateTime }) {
  const statuses = JSON.parse(document.getElementById("words").textContent).statuses;
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
      setProblem(say("search_failed", { error: failure.message }));
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
      setProblem(say("search_failed", { error: failure.message }));
    }
  };

  return html`<section class="card wide order-find" data-testid="order-search">
    <h2 class="card-title">${say("search")}</h2>
    <form class="order-find-form" onSubmit=${(e) => { e.preventDefault(); search(null); }}>
      <input type="search" data-testid="order-search-input" placeholder=${say("search_placeholder")} value=${typed}
        onInput=${(e) => setTyped(e.currentTarget.value)} />
      <button type="submit" data-testid="order-search-submit">${say("search_find")}</button>
    </form>
    ${problem && html`<p class="form-error" data-testid="order-search-error" role="alert">${problem}</p>`}
    ${found && found.orders.length === 0 && html`<p class="empty" data-testid="order-search-none">${say("search_none")}</p>`}
    ${found && found.orders.length > 0 && html`<div class="table-wrap"><table class="grid order-find-results" data-testid="order-search-results">
      <thead><tr><th>${say("found_order")}</th><th>${say("found_status")}</th><th>${say("found_created")}</th><th class="num">${say("found_total")}</th><th>${say("found_waiting")}</th></tr></thead>
      <tbody>
        ${found.orders.map((order) => html`
          <tr key=${order.order_id} class=${HELD.has(order.waiting_reason) ? "order-find-row held" : "order-find-row"}
              data-testid=${`order-found-${order.order_id}`} data-reason=${order.waiting_reason}
              aria-expanded=${String(open === order.order_id)} onClick=${() => toggle(order.order_id)}>
            <td class="when">${order.channel_title} ${order.external_id} <span class="muted">#${order.order_id}</span></td>
            <td><span class=${`status status-${order.status}`}>${statuses[order.status] || statuses.other}</span></td>
            <td class="when">${dateTime(order.created_at)}</td>
            <td class="num">${money(order.total, order.currency, say("date_locale"))}</td>
            <td class="order-find-waiting" data-testid=${`order-waiting-${order.order_id}`}>${order.waiting}</td>
          </tr>
          ${open === order.order_id && html`<tr key=${`${order.order_id}-history`} class="order-find-open">
            <td colspan="5"><${History} detail=${detail} say=${say} dateTime=${dateTime} /></td>
          </tr>`}`)}
      </tbody>
    </table></div>`}
    ${found && found.next_cursor && html`<button type="button" class="order-find-more" data-testid="order-search-more"
      onClick=${() => search(found.next_cursor)}>${say("search_more")}</button>`}
  </section>`;
}

// The Servicetermin Leadmanager page: signs in with a bearer token, fetches HTML fragments
// rendered by lead-manager and sends the advisor's actions to the JSON API.

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

const state = {
  token: null, me: null, branch: null, settings: null, local: null, timer: null,
  changing: false, signingIn: false,
  stream: null, live: false, lastEventId: null, // the live changes (see follow())
  view: "list", day: null, week: false, // the Servicetermin Manager's day, or its week
  detail: { lead: null, loads: 0 }, // the lead shown or being fetched for the detail
};
const DEFAULT_LOCAL = { refresh: 30, showNewInOverview: false, panelWidth: 480 };

class ApiError extends Error {}

// The API answers errors with a stable code and its parameters; the page says them in
// German, from the texts lead-manager renders into the page (entrypoints/labels.py).
const TEXTS = JSON.parse(document.getElementById("texts").textContent);

function fieldLabel(field) {
  const last = String(field).split(".").pop();
  return TEXTS.field[last] || last;
}

function phrase(problem, httpStatus) {
  const params = { ...(problem.params || {}), http: String(httpStatus) };
  params.fields = [...new Set((problem.errors || []).map((e) => fieldLabel(e.field)))].join(", ");
  const template = TEXTS.errors[problem.code] || TEXTS.errors[""];
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    const value = params[name] ?? "";
    return TEXTS[name]?.[value] ?? value;
  });
}

async function call(path, { method = "GET", body, fragment = false } = {}) {
  // signed out meanwhile (another tab, an expired token): whatever was still on its way
  // stops here and does not replace the sign-in form's message
  const token = state.token;
  if (!token) throw new ApiError("");
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let message = phrase({}, response.status);
    try {
      message = phrase(await response.json(), response.status);
    } catch {
      /* not JSON: the status only */
    }
    // a token being tried is refused without touching the session already signed in
    if (response.status === 401 && !state.signingIn && state.token === token) signOut(message);
    throw new ApiError(message);
  }
  if (fragment) return response.text();
  return response.status === 204 ? null : response.json();
}

function notice(text) {
  $("#notice").textContent = text;
}

function may(permission, branch = state.branch) {
  const access = state.me?.branches.find((b) => b.id === branch);
  return Boolean(access && access.permissions.includes(permission));
}

// -- sign-in ---------------------------------------------------------------------------------

async function signIn(token) {
  const before = state.token;
  state.token = token;
  state.signingIn = true;
  try {
    state.me = await call("/api/v1/me");
  } catch (error) {
    state.token = before;
    if (!before) showSignIn(error.message);
    else notice(error.message); // still signed in as before
    return;
  } finally {
    state.signingIn = false;
  }
  localStorage.setItem(TOKEN_KEY, token); // every tab of this browser, until it expires
  state.local = { ...DEFAULT_LOCAL, ...JSON.parse(localStorage.getItem(localKey()) || "{}") };
  applyLocal();
  const branches = state.me.branches.filter(
    (b) => b.permissions.includes("LEAD_MANAGER") || b.permissions.includes("OSB_ADMIN"),
  );
  if (branches.length === 0) {
    showSignIn("Ihnen ist für keinen Betrieb eine Berechtigung für Online Service Booking erteilt.");
    return;
  }
  $("#branch").replaceChildren(
    ...branches.map((b) => new Option(`${b.name} (${b.id})`, b.id)),
  );
  const remembered = localStorage.getItem(`${localKey()}.branch`);
  $("#branch").value = branches.some((b) => b.id === remembered) ? remembered : branches[0].id;
  $("#user").textContent = state.me.name;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  await chooseBranch($("#branch").value);
}

function showSignIn(message = "") {
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#token").focus();
}

function signOut(message = "") {
  clearInterval(state.timer);
  unfollow();
  localStorage.removeItem(TOKEN_KEY); // the other tabs sign out too (their "storage" event)
  state.token = null;
  state.me = null;
  showSignIn(message);
}

// -- branch, counter, configuration check ----------------------------------------------------

async function chooseBranch(branch) {
  state.branch = branch;
  localStorage.setItem(`${localKey()}.branch`, branch);
  $("#open-settings").hidden = !may("OSB_ADMIN");
  $("#open-manager").disabled = !may("LEAD_MANAGER");
  $("#open-overview").disabled = !may("LEAD_MANAGER");
  $("#open-insight").hidden = !may("LEAD_MANAGER") && !may("OSB_ADMIN");
  state.detail = { lead: null, loads: state.detail.loads + 1 }; // a load still coming is dropped
  $("#detail").innerHTML = '<p class="help">Wählen Sie einen Lead aus der Liste.</p>';
  if (may("LEAD_MANAGER")) {
    state.settings = await call(`/api/v1/branches/${encodeURIComponent(branch)}/settings`);
    const acceptor = $("#filters [name=acceptor]");
    acceptor.replaceChildren(
      new Option("Alle", ""),
      ...state.settings.acceptors.map((a) => new Option(a.name, a.id)),
    );
    follow();
    await openManager();
  } else {
    $("#manager").hidden = true;
    notice("Für diesen Betrieb fehlt die Berechtigung „Servicetermin Leadmanager“.");
  }
  restartTimer();
}

async function openManager() {
  showView("list");
  const check = await call(`/api/v1/branches/${encodeURIComponent(state.branch)}/configuration-check`);
  $("#config-problem").hidden = check.ok;
  $("#config-problem").textContent = check.message || "";
  $("#manager").hidden = false;
  await Promise.all([loadRows(), refreshCounter()]);
}

async function refreshCounter() {
  const counter = await call(`/api/v1/leads/open-count?branch_id=${encodeURIComponent(state.branch)}`);
  $("#counter").textContent = counter.display;
  $("#counter").setAttribute("aria-label", `${counter.count} offene Leads`);
}

// The list, the counter and the open lead, together.
async function refreshAll() {
  if (!state.token || !may("LEAD_MANAGER") || $("#manager").hidden) return;
  await Promise.all([refreshCounter(), loadView(), refreshDetail()]);
}

// Polling is the fallback while the live changes are not coming in. While they are, only
// the open lead's detail is fetched at the interval: its e-mail/SMS delivery status comes
// from the notifier, not as a change of the lead.
function restartTimer() {
  clearInterval(state.timer);
  $("#live").dataset.live = state.live ? "on" : "off";
  const says = state.live
    ? "Live: Änderungen erscheinen sofort."
    : `Keine Live-Verbindung: die Liste wird alle ${state.local.refresh} Sekunden neu geladen.`;
  $("#live").title = says;
  $("#live").setAttribute("aria-label", says);
  state.timer = setInterval(guarded(async () => {
    if ($("#dialog").open || document.hidden) return;
    await (state.live ? refreshDetail() : refreshAll());
  }), Math.max(2, Number(state.local.refresh)) * 1000);
}

// -- live changes ----------------------------------------------------------------------------
// lead-manager pushes every change of a lead in this branch (Server-Sent Events). After a
// lost connection the browser reconnects by itself and names the last change it got, so
// nothing is missed; a tab in the background lets go of its connection and asks for what
// it missed when it is shown again.

function follow() {
  unfollow();
  if (!state.token || !may("LEAD_MANAGER")) return;
  const params = new URLSearchParams({ access_token: state.token, branch_id: state.branch });
  const resumed = Boolean(state.lastEventId);
  if (resumed) params.append("since", state.lastEventId);
  const stream = new EventSource(`/api/v1/lead-events?${params}`);
  state.stream = stream;
  const remember = (event) => {
    if (event.lastEventId) state.lastEventId = event.lastEventId;
  };
  stream.addEventListener("ready", (event) => {
    remember(event);
    setLive(true);
    // a change between the list's load and the stream's start would be missed: once more
    if (!resumed) refreshSoon();
  });
  stream.addEventListener("lead", (event) => {
    remember(event);
    const change = JSON.parse(event.data);
    if (change.branch_id !== state.branch) return;
    announce(change);
    showStatus(change);
    refreshSoon(change.lead_id, { counter: COUNTED.has(change.kind), list: !DETAIL_ONLY.has(change.kind) });
  });
  stream.addEventListener("reload", (event) => {
    remember(event);
    refreshSoon(null, { everything: true });
  });
  stream.addEventListener("error", () => {
    if (state.stream !== stream) return;
    setLive(false);
    // refused (signed out, the token expired): polling finds out why; try again later
    if (stream.readyState === EventSource.CLOSED) setTimeout(() => state.stream === stream && follow(), 10_000);
  });
}

function unfollow() {
  state.stream?.close();
  state.stream = null;
  if (state.live) setLive(false);
}

function setLive(live) {
  if (state.live === live) return;
  state.live = live;
  restartTimer();
}

// The changes that can change how many leads are new (the counter): not an edit, not the
// DMS deleting an appointment (only a scheduled lead has one).
const COUNTED = new Set([
  "LeadCreated", "LeadRejected", "AppointmentCreated", "LeadCancelledByCustomer", "LeadRescheduleRequested",
]);

// A delivery's outcome shows only in the lead's detail: the list stays as it is.
const DETAIL_ONLY = new Set(["LeadNotificationOutcome"]);

// Changes often come in bursts (a lead and its notification): one refresh for them.
const pending = { timer: null, leads: new Set(), everything: false, counter: false, list: false };
function refreshSoon(lead = null, { everything = false, counter = true, list = true } = {}) {
  if (lead) pending.leads.add(lead);
  pending.everything ||= everything;
  pending.counter ||= counter || everything;
  pending.list ||= list || everything;
  clearTimeout(pending.timer);
  pending.timer = setTimeout(guarded(async () => {
    const detail = pending.everything || pending.leads.has(state.detail.lead);
    const [counted, listed] = [pending.counter, pending.list];
    Object.assign(pending, { everything: false, counter: false, list: false });
    pending.leads.clear();
    if (!state.token || $("#manager").hidden) return;
    await Promise.all([counted ? refreshCounter() : null, listed ? loadView() : null, detail ? refreshDetail() : null]);
  }), 100);
}

// The new status at once where the lead is shown; the refresh that follows brings the rest
// (the list's order and filter, the counter, the history).
function showStatus(change) {
  const label = TEXTS.status[change.status];
  if (!label) return;
  const badges = [$(`#rows tr[data-lead="${change.lead_id}"] .badge`)];
  if ($("#detail-title")?.dataset.lead === change.lead_id) badges.push($("#detail-title .badge"));
  for (const badge of badges.filter(Boolean)) {
    badge.textContent = label;
    badge.className = `badge badge-${change.status.toLowerCase()}`;
  }
}

// A lead the DMS or the customer cancelled is said, not only shown by its badge.
function announce(change) {
  if (!TEXTS.live[change.kind]) return;
  const name = $(`#rows tr[data-lead="${change.lead_id}"] [data-open]`)?.textContent.trim()
    || ($("#detail-title")?.dataset.lead === change.lead_id ? $("#detail-title").dataset.name : "");
  const item = document.createElement("li");
  item.dataset.lead = change.lead_id;
  item.innerHTML = '<span></span> <button type="button" class="link" data-open-alert>Lead öffnen</button> ' +
    '<button type="button" class="link" data-dismiss aria-label="Hinweis schließen">Schließen</button>';
  const text = name ? TEXTS.live[change.kind] : TEXTS.live[`${change.kind}.unnamed`];
  $("span", item).textContent = text.replace("{name}", name);
  $("#alerts").append(item);
}

// -- the Servicetermin Manager --------------------------------------------------------------
// The branch's appointments per acceptor, a day or a week; the new leads at the times the
// customers asked for as tentative entries when the local setting says so. An entry opens
// its lead in the same panel as the lead list does.

function showView(view) {
  state.view = view;
  $("#filters").hidden = view !== "list";
  $("#leads").hidden = view !== "list";
  $("#overview").hidden = view !== "overview";
  $("#open-manager").setAttribute("aria-pressed", String(view === "list"));
  $("#open-overview").setAttribute("aria-pressed", String(view === "overview"));
}

function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: $("#manager").dataset.zone }).format(new Date());
}

function germanDate(iso) {
  const [year, month, day] = iso.split("-");
  return `${day}.${month}.${year}`;
}

async function openOverview() {
  $("#manager").hidden = false;
  showView("overview");
  state.day ||= today();
  await Promise.all([loadOverview(), refreshCounter()]);
  $("#overview").focus();
}

let overviewRequest = 0;

// Only the last of overlapping loads is shown: a live change's refresh of the day before a
// date was typed may be answered after the typed day's.
async function loadOverview() {
  const ticket = ++overviewRequest;
  const tools = $("#overview-tools");
  // a refresh (a live change) while the advisor types a date leaves the typing alone
  if (document.activeElement !== tools.elements.day) {
    tools.elements.day.value = germanDate(state.day);
    tools.elements.day.setCustomValidity("");
  }
  tools.elements.view.value = state.week ? "week" : "day";
  tools.elements.new_leads.checked = state.local.showNewInOverview;
  const params = new URLSearchParams({
    day: state.day,
    view: state.week ? "week" : "day",
    new_leads: String(state.local.showNewInOverview),
  });
  const html = await call(`/ui/branches/${encodeURIComponent(state.branch)}/overview?${params}`, { fragment: true });
  if (ticket !== overviewRequest) return;
  const focused = document.activeElement?.closest("#overview-body [data-open]")?.dataset.open;
  $("#overview-body").innerHTML = html;
  markSelected();
  if (focused) $(`#overview-body [data-open="${focused}"]`)?.focus();
}

function moveOverview(step) {
  if (step === 0) {
    state.day = today();
  } else {
    const day = new Date(`${state.day}T12:00:00Z`);
    day.setUTCDate(day.getUTCDate() + step * (state.week ? 7 : 1));
    state.day = day.toISOString().slice(0, 10);
  }
  return loadOverview();
}

// Whichever the advisor is looking at: the list or the Servicetermin Manager.
function loadView() {
  return state.view === "overview" ? loadOverview() : loadRows();
}

function markSelected() {
  const selected = $("#detail-title")?.dataset.lead;
  for (const item of $$("#rows tr[data-lead], #overview-body [data-open]")) {
    const id = item.dataset.lead || item.dataset.open;
    item.classList.toggle("selected", id === selected);
  }
}

// -- German dates ----------------------------------------------------------------------------
// Typed and shown as the advisor reads them (03.12.2026, 09:00) whatever the browser's
// locale: text fields, not the browser's pickers, which follow the browser's language.

function isoDate(text) {
  const m = /^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$/.exec(text);
  if (!m) return null;
  const [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return date.toISOString().slice(0, 10);
}

function isoLocalTime(text) {
  const m = /^\s*(\S+)\s+(\d{1,2}):(\d{2})\s*$/.exec(text);
  const day = m && isoDate(m[1]);
  if (!day || Number(m[2]) > 23 || Number(m[3]) > 59) return null;
  return `${day}T${m[2].padStart(2, "0")}:${m[3]}`;
}

// The zone's offset at that wall-clock time (+01:00 in winter, +02:00 in summer in Berlin).
function withOffset(isoLocal, zone) {
  const probe = new Date(`${isoLocal}:00Z`);
  const name = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
    .formatToParts(probe).find((p) => p.type === "timeZoneName").value;
  return `${isoLocal}:00${name === "GMT" ? "+00:00" : name.slice(3)}`;
}

function dateField(input, label) {
  const value = input.value.trim();
  if (!value) return undefined;
  const iso = isoDate(value);
  if (!iso) throw new Error(`Bitte geben Sie ${label} als TT.MM.JJJJ ein (z. B. 07.11.2001).`);
  return iso;
}

function dateTimeField(input, label, zone) {
  const iso = isoLocalTime(input.value);
  if (!iso) throw new Error(`Bitte geben Sie ${label} als TT.MM.JJJJ HH:MM ein (z. B. 03.12.2026 09:00).`);
  return withOffset(iso, zone);
}

// -- list and detail -------------------------------------------------------------------------

function filterQuery(cursor) {
  const params = new URLSearchParams();
  params.append("branch_id", state.branch);
  const form = $("#filters");
  for (const name of ["status", "day_from", "day_to", "acceptor", "q"]) {
    const input = form.elements[name];
    let value = input.value.trim();
    if (input.dataset.date !== undefined && value) {
      value = isoDate(value) || "";
      input.setCustomValidity(value ? "" : "TT.MM.JJJJ");
    }
    if (value) params.append(name, value);
  }
  if (cursor) params.append("cursor", cursor);
  return params.toString();
}

let listRequest = 0;
let lastRows = null;
async function loadRows({ cursor = null } = {}) {
  const ticket = ++listRequest;
  const html = await call(`/ui/leads?${filterQuery(cursor)}`, { fragment: true });
  if (ticket !== listRequest) return; // a newer search has been typed meanwhile
  const rows = $("#rows");
  // A refresh that changes nothing leaves the rows alone: replaced under a click, a row
  // would swallow it (the live stream refreshes once when it starts).
  if (!cursor && html === lastRows && rows.isConnected) return;
  lastRows = cursor ? null : html;
  // A refresh replaces the rows: keep the keyboard focus on the lead it was on.
  const focused = document.activeElement?.closest("#rows [data-open]")?.dataset.open;
  if (cursor) {
    $(".more-row", rows)?.remove();
    rows.insertAdjacentHTML("beforeend", html);
  } else {
    rows.innerHTML = html;
  }
  markSelected();
  if (focused) $(`[data-open="${focused}"]`, rows)?.focus();
  const count = $$("tr[data-lead]", rows).length;
  $("#list-status").textContent = `(${count}${$(".more-row", rows) ? "+" : ""})`;
}

// Only the last of overlapping loads is shown (a refresh while the lead is still being
// opened, two clicks): an earlier answer may be older and may come later.
async function openLead(id, { focus = true } = {}) {
  const load = ++state.detail.loads;
  state.detail.lead = id;
  const html = await call(`/ui/leads/${id}`, { fragment: true });
  if (load !== state.detail.loads) return;
  // the same lead unchanged (a refresh at the interval): its buttons stay under the pointer
  if (html !== state.detail.html || $("#detail").dataset.lead !== String(id)) {
    $("#detail").innerHTML = html;
    $("#detail").dataset.lead = id;
    state.detail.html = html;
  }
  markSelected();
  if (focus) $("#detail").focus();
}

// The open lead again (new status, history, delivery status), unless a menu of it is open;
// the keyboard focus stays where it was (the same button, else the detail).
async function refreshDetail() {
  const id = state.detail.lead;
  if (!id || $("#detail [aria-expanded=true]")) return;
  const focused = document.activeElement?.closest("#detail") ? document.activeElement : null;
  const action = focused?.dataset.action;
  const channel = focused?.dataset.channel;
  await openLead(id, { focus: false });
  // focus moved on meanwhile (a dialog's change put it on the lead's row): leave it there
  const moved = document.activeElement && document.activeElement !== document.body;
  if (!focused || (moved && !document.activeElement.closest("#detail"))) return;
  const same = action && $$(`#detail [data-action="${action}"]`)
    .find((b) => (b.dataset.channel || "") === (channel || ""));
  (same || $("#detail")).focus();
}

async function afterChange(id, message) {
  notice(message);
  await Promise.all([loadView(), refreshCounter(), openLead(id, { focus: false })]);
  if (state.changing) focusLead(id);
}

// After a dialog, focus goes back to the lead it acted on: its row in the list (the button
// that opened it was re-rendered), else the detail.
function focusLead(id) {
  state.changing = false;
  const from = state.view === "overview" ? "#overview-body" : "#rows";
  ($(`${from} [data-open="${id}"]`) || $("#detail"))?.focus();
}

// -- dialogs ---------------------------------------------------------------------------------

async function openDialog(path) {
  const dialog = $("#dialog");
  $("#dialog-body").innerHTML = await call(path, { fragment: true });
  if (!dialog.open) dialog.showModal();
  const form = $("form", dialog);
  if (form) form.dataset.requestId = crypto.randomUUID();
  $("input:not([type=hidden]):not([disabled]), select, textarea", dialog)?.focus();
}

function closeDialog({ changed = false } = {}) {
  state.changing = changed; // afterChange puts the focus back once the list shows it
  $("#dialog").close();
  $("#dialog-body").innerHTML = "";
}

function formError(form, error) {
  $(".error", form).textContent = error.message;
}

async function submitReject(form) {
  const body = {
    channel: form.dataset.channel,
    text: form.elements.text.value,
    expected_version: Number(form.dataset.version),
  };
  if (form.elements.subject) body.subject = form.elements.subject.value;
  if (form.elements.reason?.value) body.reason = form.elements.reason.value;
  await call(`/api/v1/leads/${form.dataset.lead}/reject`, { method: "POST", body });
  closeDialog({ changed: true });
  const how = body.channel === "SMS" ? "SMS" : "E-Mail";
  await afterChange(form.dataset.lead, `Lead abgelehnt, die Bestätigung geht per ${how} an den Kunden.`);
}

async function submitOffer(form) {
  const zone = form.dataset.zone;
  const minutes = Number(form.elements.minutes.value.trim());
  if (!(minutes >= 5 && minutes <= 600)) throw new Error("Bitte geben Sie die Dauer in Minuten an (z. B. 60).");
  const times = [1, 2, 3]
    .map((n) => form.elements[`time${n}`])
    .filter((input) => input.value.trim())
    .map((input, i) => {
      const start = dateTimeField(input, `den ${i + 1}. Termin`, zone);
      const end = new Date(new Date(start).getTime() + minutes * 60000).toISOString();
      return { start, end };
    });
  if (!times.length) throw new Error("Bitte schlagen Sie mindestens einen Termin vor.");
  const [choice, number] = form.elements.customer.value.split(":");
  if (!choice) throw new Error("Bitte wählen Sie, für wen der Termin angelegt wird.");
  const body = {
    times,
    channel: form.elements.channel.value,
    acceptor: form.elements.acceptor.value,
    customer: number ? { choice, customer_number: number } : { choice },
    expected_version: Number(form.dataset.version),
  };
  await call(`/api/v1/leads/${form.dataset.lead}/offer`, { method: "POST", body });
  closeDialog({ changed: true });
  const how = body.channel === "SMS" ? "SMS" : "E-Mail";
  await afterChange(form.dataset.lead, `Terminvorschlag gesendet, der Kunde erhält die Termine per ${how}.`);
}

const MERGES = ["MERGE_LEAD_DATA", "MERGE_MASTER_DATA"];

// The customer the advisor has selected: a candidate for a merge, "new" for a new customer
// or a cash sale, "" while nothing is chosen; the known customer's number when there is one.
function selectedCustomer(form) {
  const choice = form.elements.choice?.value;
  if (choice === "EXISTING") return $("[data-vehicle-for]", form).dataset.vehicleFor;
  if (choice === "NEW_CUSTOMER" || choice === "CASH_SALE") return "new";
  return selectedCandidate(form)?.value || "";
}

function selectedCandidate(form) {
  return $$("input[name=candidate]", form).find((c) => c.checked);
}

// The compare table and the vehicle's case follow the selection.
function showSelection(form) {
  const candidate = selectedCandidate(form)?.value;
  for (const table of $$("table.compare", form)) table.hidden = table.dataset.compare !== candidate;
  const key = selectedCustomer(form);
  const blocks = $$("[data-vehicle-for]", form);
  const shown = blocks.some((b) => b.dataset.vehicleFor === key) ? key : "";
  for (const block of blocks) block.hidden = block.dataset.vehicleFor !== shown;
  if (form.elements.apply_to_master) {
    const merging = form.elements.choice.value === "MERGE_LEAD_DATA" && Boolean(candidate);
    form.elements.apply_to_master.disabled = !merging;
    if (!merging) form.elements.apply_to_master.checked = false;
  }
}

// "Neuer Kunde" goes through the customer mask (Kundenstamm-Maske) before anything is saved;
// leaving it returns to the duplicate dialog as it was.
function showMask(form, open) {
  $("fieldset.master-mask", form).hidden = !open;
  for (const part of $$("fieldset.customer, fieldset.slot, aside.info, [data-schedule-actions]", form)) {
    part.hidden = open;
  }
  $(".error", form).textContent = "";
  if (open) $("[name=m_last_name]", form).focus();
}

function enteredCustomer(form) {
  const value = (name) => form.elements[`m_${name}`].value.trim() || undefined;
  const address = Object.fromEntries(
    ["street", "house_number", "postcode", "city", "country"].map((f) => [f, value(f)]),
  );
  const person = Object.fromEntries(
    ["salutation", "title", "first_name", "last_name", "company", "email", "phone", "mobile"]
      .map((f) => [f, value(f)]),
  );
  person.birth_date = dateField(form.elements.m_birth_date, "das Geburtsdatum");
  return { ...person, address };
}

async function submitSchedule(form) {
  const choice = form.elements.choice.value;
  if (!choice) throw new Error("Bitte wählen Sie, wie der Kunde übernommen wird.");
  const mask = $("fieldset.master-mask", form);
  if (choice === "NEW_CUSTOMER" && mask?.hidden) {
    showMask(form, true);
    return;
  }
  const candidate = selectedCandidate(form);
  if (MERGES.includes(choice) && !candidate) {
    throw new Error("Bitte wählen Sie den Kunden, mit dem zusammengeführt wird.");
  }
  if (MERGES.includes(choice) && candidate.dataset.band === "POSSIBLE") {
    const differs = candidate.dataset.differs || "keine Angaben";
    const question = `Kunde ${candidate.value} ist nur als mögliche Dublette bewertet.\n` +
      `Abweichend: ${differs}.\n\nTrotzdem mit diesem Kunden zusammenführen?`;
    if (!window.confirm(question)) return;
  }
  const shown = $$("[data-vehicle-for]", form).find((b) => !b.hidden);
  const warning = shown?.dataset.warning;
  if (warning && !window.confirm(`${warning}\n\nTermin trotzdem anlegen?`)) return;
  const zone = form.dataset.zone;
  const customer = { choice, apply_to_master: Boolean(form.elements.apply_to_master?.checked) };
  if (MERGES.includes(choice)) customer.customer_number = candidate.value;
  if (choice === "NEW_CUSTOMER" && mask) customer.customer = enteredCustomer(form);
  const body = {
    start: dateTimeField(form.elements.start, "den Beginn", zone),
    end: dateTimeField(form.elements.end, "das Ende", zone),
    acceptor: form.elements.acceptor.value,
    confirmation: form.elements.confirmation.value,
    customer,
    expected_version: Number(form.dataset.version),
    request_id: form.dataset.requestId,
  };
  const result = await call(`/api/v1/leads/${form.dataset.lead}/schedule`, { method: "POST", body });
  closeDialog({ changed: true });
  const warnings = result.warnings.map((w) => w.message).join(" ");
  await afterChange(
    form.dataset.lead,
    `Termin angelegt für Kunde ${result.customer_number}.${warnings ? ` Hinweis: ${warnings}` : ""}`,
  );
}

// "08:00–12:00, 13:00–17:00" (any dash, "8:00" too) as the API takes it; empty: closed.
function openingIntervals(input) {
  const text = input.value.trim();
  if (!text) return [];
  return text.split(/\s*[,;]\s*/).map((part) => {
    const m = /^(\d{1,2}):(\d{2})\s*[-–—]\s*(\d{1,2}):(\d{2})$/.exec(part);
    if (!m || Number(m[1]) > 23 || Number(m[3]) > 23 || Number(m[2]) > 59 || Number(m[4]) > 59) {
      const day = input.closest("label").firstChild.textContent.trim();
      throw new Error(`Bitte geben Sie die Öffnungszeiten am ${day} als 08:00–18:00 an (mit Pause: 08:00–12:00, 13:00–17:00).`);
    }
    const at = (h, min) => `${h.padStart(2, "0")}:${min}`;
    return { opens: at(m[1], m[2]), closes: at(m[3], m[4]) };
  });
}

async function submitSettings(form) {
  const acceptors = $$("tr[data-acceptor]", form).map((row) => ({
    id: $("[name=acceptor_id]", row).value.trim(),
    name: $("[name=acceptor_name]", row).value.trim(),
    active: $("[name=acceptor_active]", row).checked,
  }));
  const templates = Object.fromEntries(
    $$("textarea[data-template]", form).map((t) => [t.dataset.template, t.value]),
  );
  const criteria = $$("[name=duplicate_criteria]:checked", form).map((c) => c.value);
  const openingHours = Object.fromEntries(
    $$("[data-weekday]", form).map((input) => [input.dataset.weekday, openingIntervals(input)]),
  );
  const hours = Number(form.elements.response_hours.value.trim().replace(",", "."));
  if (!(hours > 0)) throw new Error("Bitte geben Sie die Reaktionszeit in Arbeitsstunden an (z. B. 2 oder 1,5).");
  const grace = form.elements.no_show_grace_minutes.value.trim();
  if (!/^\d{1,4}$/.test(grace)) throw new Error("Bitte geben Sie die Minuten bis „Nicht erschienen“ als ganze Zahl an (z. B. 30).");
  const offerHours = form.elements.offer_response_hours.value.trim();
  if (!/^\d{1,3}$/.test(offerHours) || Number(offerHours) < 1) throw new Error("Bitte geben Sie die Antwortfrist für Terminvorschläge in ganzen Stunden an (z. B. 48).");
  const retention = form.elements.lead_retention_months.value.trim();
  if (!/^\d{1,3}$/.test(retention) || Number(retention) < 1 || Number(retention) > 120) throw new Error("Bitte geben Sie die Aufbewahrung der Terminleads in ganzen Monaten an (1 bis 120, z. B. 24).");
  const reminders = form.elements.reminder_hours.value.split(/[;\s]+/).filter(Boolean)
    .map((h) => Number(h.replace(",", ".")));
  if (reminders.some((h) => !(h >= 0.25))) throw new Error("Bitte geben Sie die Terminerinnerungen in Stunden vor dem Termin an (z. B. 24; 2).");
  const body = {
    name: form.elements.name.value,
    acceptors: acceptors.filter((a) => a.id && a.name),
    sms_enabled: form.elements.sms_enabled.checked,
    templates,
    cash_sale_customer_number: form.elements.cash_sale_customer_number.value.trim() || null,
    duplicate_criteria: criteria,
    sender_email: form.elements.sender_email.value.trim() || null,
    opening_hours: openingHours,
    holiday_region: form.elements.holiday_region.value,
    response_minutes: Math.round(hours * 60),
    escalation_email: form.elements.escalation_email.value.trim() || null,
    rejection_reasons: form.elements.rejection_reasons.value.split("\n").map((r) => r.trim()).filter(Boolean),
    no_show_grace_minutes: Number(grace),
    reminder_offsets: reminders.map((h) => Math.round(h * 60)),
    reminder_quiet: form.elements.reminder_quiet.value,
    offer_response_hours: Number(offerHours),
    lead_retention_months: Number(retention),
    expected_version: Number(form.dataset.version),
  };
  await call(`/api/v1/branches/${encodeURIComponent(form.dataset.branch)}/settings`, {
    method: "PUT",
    body,
  });
  closeDialog();
  notice("OSB-Einstellungen gespeichert.");
  await chooseBranch(state.branch);
}

// -- the Auswertung: the branch's figures for a period --------------------------------------

function insightQuery(form) {
  const [from, to] = [form.elements.day_from.value, form.elements.day_to.value].map(isoDate);
  if (!from || !to) throw new Error("Bitte geben Sie den Zeitraum als TT.MM.JJJJ ein.");
  return `${encodeURIComponent(form.dataset.branch)}/insight?${new URLSearchParams({ day_from: from, day_to: to })}`;
}

async function submitInsight(form) {
  await openDialog(`/ui/branches/${insightQuery(form)}`);
}

async function exportInsight(form) {
  const query = insightQuery(form).replace("/insight?", "/insight.csv?");
  const csv = await call(`/api/v1/branches/${query}`, { fragment: true });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
  link.download = `auswertung-${form.dataset.branch}-${isoDate(form.elements.day_from.value)}-${isoDate(form.elements.day_to.value)}.csv`;
  link.click();
  URL.revokeObjectURL(link.href);
}

const SUBMITS = {
  "insight-form": submitInsight,
  "offer-form": submitOffer,
  "reject-form": submitReject,
  "schedule-form": submitSchedule,
  "settings-form": submitSettings,
};

// -- local settings (per user, kept in this browser) -----------------------------------------

function localKey() {
  return `osb.local.${state.me.id}`;
}

function applyLocal() {
  document.documentElement.style.setProperty("--panel-width", `${state.local.panelWidth}px`);
}

function openLocalSettings() {
  const form = $("#local-form");
  form.elements.refresh.value = state.local.refresh;
  form.elements.showNewInOverview.checked = state.local.showNewInOverview;
  form.elements.panelWidth.value = state.local.panelWidth;
  $("#local-settings").showModal();
}

function saveLocalSettings() {
  const form = $("#local-form");
  state.local = {
    refresh: Number(form.elements.refresh.value),
    showNewInOverview: form.elements.showNewInOverview.checked,
    panelWidth: Number(form.elements.panelWidth.value),
  };
  localStorage.setItem(localKey(), JSON.stringify(state.local));
  applyLocal();
  restartTimer();
  notice("Lokale Einstellungen gespeichert.");
  if (state.view === "overview") loadOverview().catch((error) => notice(error.message));
}

// -- wiring ----------------------------------------------------------------------------------

function guarded(action) {
  return async (event) => {
    try {
      await action(event);
    } catch (error) {
      if (!(error instanceof ApiError)) console.error(error);
      notice(error.message);
    }
  };
}

function debounce(action, ms) {
  let handle;
  return (event) => {
    clearTimeout(handle);
    handle = setTimeout(() => action(event), ms);
  };
}

function closeMenus(except) {
  for (const button of $$("[data-action=reject-menu]")) {
    if (button === except) continue;
    button.setAttribute("aria-expanded", "false");
    $(`#${button.getAttribute("aria-controls")}`).hidden = true;
  }
}

function wire() {
  $("#signin-form").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    await signIn($("#token").value.trim());
  }));
  $("#signout").addEventListener("click", () => signOut());
  $("#branch").addEventListener("change", guarded((e) => chooseBranch(e.target.value)));
  $("#open-manager").addEventListener("click", guarded(openManager));
  $("#open-overview").addEventListener("click", guarded(openOverview));
  const tools = $("#overview-tools");
  tools.addEventListener("submit", (e) => e.preventDefault());
  tools.addEventListener("click", guarded(async (event) => {
    const move = event.target.closest("[data-move]");
    if (move) await moveOverview(Number(move.dataset.move));
  }));
  tools.addEventListener("change", guarded(async (event) => {
    const input = event.target;
    if (input.name === "view") state.week = input.value === "week";
    if (input.name === "new_leads") {
      // the same local setting as in "Lokale Einstellungen"
      state.local.showNewInOverview = input.checked;
      localStorage.setItem(localKey(), JSON.stringify(state.local));
    }
    if (input.name === "day") {
      const iso = isoDate(input.value);
      input.setCustomValidity(iso ? "" : "TT.MM.JJJJ");
      if (!iso) throw new Error("Bitte geben Sie das Datum als TT.MM.JJJJ ein (z. B. 03.12.2026).");
      state.day = iso;
    }
    await loadOverview();
  }));
  $("#overview-body").addEventListener("click", guarded(async (event) => {
    const open = event.target.closest("[data-open]");
    if (open) await openLead(open.dataset.open);
  }));
  $("#refresh").addEventListener("click", guarded(refreshAll));
  $("#alerts").addEventListener("click", guarded(async (event) => {
    const item = event.target.closest("li");
    if (event.target.closest("[data-open-alert]")) await openLead(item.dataset.lead);
    if (event.target.closest("[data-open-alert], [data-dismiss]")) item.remove();
  }));
  $("#open-settings").addEventListener("click", guarded(() =>
    openDialog(`/ui/branches/${encodeURIComponent(state.branch)}/settings`)));
  $("#open-insight").addEventListener("click", guarded(() =>
    openDialog(`/ui/branches/${encodeURIComponent(state.branch)}/insight`)));
  $("#open-local").addEventListener("click", openLocalSettings);
  $("#local-settings").addEventListener("close", () => {
    if ($("#local-settings").returnValue === "save") saveLocalSettings();
  });

  const filters = $("#filters");
  filters.addEventListener("submit", (e) => e.preventDefault());
  // a typed day reloads as it is typed (below), not once more when the field is left
  filters.addEventListener("change", guarded(async (event) => {
    if (event.target.dataset.date === undefined) await loadRows();
  }));
  $("#search").addEventListener("input", debounce(guarded(() => loadRows()), 250));
  for (const day of $$("[data-date]", filters)) {
    // a day applies as soon as it is complete (or emptied), as the search does
    day.addEventListener("input", debounce(guarded(async () => {
      const typed = day.value.trim();
      if (!typed || isoDate(typed)) await loadRows();
    }), 250));
  }

  $("#rows").addEventListener("click", guarded(async (event) => {
    const open = event.target.closest("[data-open]");
    if (open) await openLead(open.dataset.open);
    const more = event.target.closest("[data-more]");
    if (more) await loadRows({ cursor: more.dataset.more });
  }));

  $("#detail").addEventListener("click", guarded(async (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const id = $("#detail-title").dataset.lead;
    switch (button.dataset.action) {
      case "reject-menu": {
        const open = button.getAttribute("aria-expanded") !== "true";
        closeMenus(button);
        button.setAttribute("aria-expanded", String(open));
        const menu = $(`#${button.getAttribute("aria-controls")}`);
        menu.hidden = !open;
        if (open) $("[role=menuitem]", menu).focus();
        break;
      }
      case "reject":
        closeMenus();
        await openDialog(`/ui/leads/${id}/reject?channel=${button.dataset.channel}`);
        break;
      case "schedule":
        await openDialog(`/ui/leads/${id}/schedule`);
        break;
      case "offer":
        await openDialog(`/ui/leads/${id}/offer`);
        break;
      case "resend":
        await call(`/api/v1/leads/${id}/notifications/${button.dataset.notification}/resend`, {
          method: "POST",
        });
        await afterChange(id, "Erneuter Versand angefordert.");
        break;
      default:
    }
  }));
  $("#detail").addEventListener("keydown", (event) => {
    const menu = event.target.closest("[role=menu]");
    if (event.key === "Escape" && menu) {
      closeMenus();
      $(`[aria-controls=${menu.id}]`).focus();
    }
    if (menu && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      const items = $$("[role=menuitem]", menu);
      const next = items.indexOf(event.target) + (event.key === "ArrowDown" ? 1 : -1);
      items[(next + items.length) % items.length].focus();
    }
  });

  const dialog = $("#dialog");
  dialog.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const submit = SUBMITS[form.id];
    if (!submit) return;
    const buttons = $$("button[type=submit]", form);
    for (const button of buttons) button.disabled = true;
    $(".error", form).textContent = "";  // the last attempt's complaint is not this one's
    try {
      await submit(form);
    } catch (error) {
      formError(form, error);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
  dialog.addEventListener("click", guarded(async (event) => {
    if (event.target.closest("[data-close]")) closeDialog();
    if (event.target.closest("[data-export]")) {
      const form = event.target.form;
      $(".error", form).textContent = "";
      try {
        await exportInsight(form);
      } catch (error) {
        formError(form, error);
      }
    }
    if (event.target.closest("[data-mask-back]")) showMask(event.target.form, false);
    if (event.target.closest("[data-remove-acceptor]")) {
      // gone from the branch when the settings are saved; appointments keep their acceptor
      const row = event.target.closest("tr[data-acceptor]");
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      ($("[data-remove-acceptor]", next || dialog) || $("[data-add-acceptor]", dialog)).focus();
    }
    if (event.target.closest("[data-add-acceptor]")) {
      const body = $("table.acceptors tbody", dialog);
      body.insertAdjacentHTML(
        "beforeend",
        `<tr data-acceptor>
          <td><input type="text" name="acceptor_id" maxlength="64" aria-label="Kennung" required></td>
          <td><input type="text" name="acceptor_name" maxlength="200" aria-label="Name" required></td>
          <td><input type="checkbox" name="acceptor_active" checked aria-label="aktiv"></td>
          <td><button type="button" data-remove-acceptor aria-label="Annehmer entfernen">Entfernen</button></td></tr>`,
      );
      $("tr:last-child input", body).focus();
    }
  }));
  dialog.addEventListener("change", guarded(async (event) => {
    const form = event.target.form;
    if (event.target.matches("[data-swap-template]")) {
      const text = form.elements.text;
      const edited = text.value !== text.defaultValue;
      const question = "Ihr geänderter Text geht verloren. Textbaustein trotzdem wechseln?";
      if (edited && !window.confirm(question)) {
        // keep the edit and the template it came from
        event.target.value = [...event.target.options].find((o) => o.defaultSelected).value;
        return;
      }
      const params = new URLSearchParams({ channel: form.dataset.channel, template: event.target.value });
      await openDialog(`/ui/leads/${form.dataset.lead}/reject?${params}`);
    }
    if (event.target.name === "candidate" || event.target.name === "choice") showSelection(form);
  }));
  dialog.addEventListener("close", () => {
    const lead = $("form[data-lead]", dialog)?.dataset.lead;
    $("#dialog-body").innerHTML = "";
    // closed without a change (Abbrechen, Esc): back to the lead now; after a change
    // afterChange does it once the list shows the change
    if (lead && !state.changing) focusLead(lead);
  });
}

// The token is kept in localStorage, so a second tab of the browser is signed in too; one
// that has expired (its "exp") is not used.
const TOKEN_KEY = "osb.token";

function storedToken() {
  const token = localStorage.getItem(TOKEN_KEY);
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    if (claims.exp * 1000 > Date.now()) return token;
  } catch {
    /* none, or not a token */
  }
  localStorage.removeItem(TOKEN_KEY);
  return null;
}

function tokenFromLink() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) history.replaceState(null, "", location.pathname); // not left in the history
  return token;
}

async function start() {
  wire();
  document.addEventListener("visibilitychange", () => {
    if (!state.token || !state.branch) return;
    if (document.hidden) unfollow();
    else if (!state.stream) follow();
  });
  // a sign-in link pasted into a tab that is already open signs in without a reload
  window.addEventListener("hashchange", guarded(async () => {
    const token = tokenFromLink();
    if (token) await signIn(token);
  }));
  window.addEventListener("storage", guarded(async (event) => {
    if (event.key !== TOKEN_KEY) return;
    if (!event.newValue && state.token) signOut("Sie haben sich in einem anderen Tab abgemeldet.");
    else if (event.newValue && !state.token) await signIn(event.newValue);
  }));
  const token = tokenFromLink() || storedToken();
  if (token) await signIn(token);
  else showSignIn();
}

start();

/**
 * HTML of the preview's pages, in SLDS markup: the record picker (index) and a record
 * page laid out as the package's Lightning record page (highlights panel on top,
 * details in the main column, the Audience Subscriptions component at the top of the
 * side column). The component itself is rendered by the bundle (client/app.js).
 */
import { LANGUAGE_INFO, LANGUAGES, type Language } from './i18n';

/**
 * Words of the page around the component (Salesforce's own standard UI, which the
 * package does not ship). Only the component and the package's fields come from the
 * package's translations.
 */
const CHROME: Readonly<Record<Language, Record<string, string>>> = {
    en_US: {
        Contact: 'Contact',
        Lead: 'Lead',
        details: 'Details',
        related: 'Related',
        email: 'Email',
        phone: 'Phone',
        title: 'Title',
        account: 'Account Name',
        company: 'Company',
        emailOptOut: 'Email Opt Out',
        refresh: 'Refresh',
        notFound: 'This record does not exist or you cannot see it.'
    },
    fr: {
        Contact: 'Contact',
        Lead: 'Piste',
        details: 'Détails',
        related: 'Associé',
        email: 'E-mail',
        phone: 'Téléphone',
        title: 'Titre',
        account: 'Nom du compte',
        company: 'Société',
        emailOptOut: 'Refus des e-mails',
        refresh: 'Actualiser',
        notFound:
            'Cet enregistrement n’existe pas ou vous n’êtes pas autorisé à le voir.'
    },
    zh_CN: {
        Contact: '联系人',
        Lead: '潜在客户',
        details: '详细信息',
        related: '相关',
        email: '电子邮件',
        phone: '电话',
        title: '职务',
        account: '客户名',
        company: '公司',
        emailOptOut: '拒绝电子邮件',
        refresh: '刷新',
        notFound: '此记录不存在或您无权查看。'
    },
    ja: {
        Contact: '取引先責任者',
        Lead: 'リード',
        details: '詳細',
        related: '関連',
        email: 'メール',
        phone: '電話',
        title: '役職',
        account: '取引先名',
        company: '会社名',
        emailOptOut: 'メール送信除外',
        refresh: '更新',
        notFound: 'このレコードは存在しないか、参照する権限がありません。'
    }
};

export function chromeText(lang: Language, key: string): string {
    return CHROME[lang][key] ?? CHROME.en_US[key] ?? key;
}

export function escapeHtml(value: unknown): string {
    return String(value ?? '')
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;')
        .replace(/'/g, '&#39;');
}

/** JSON for an inline <script> (no </script> or <!-- can close it). */
export function inlineJson(value: unknown): string {
    return JSON.stringify(value)
        .replace(/</g, '\\u003c')
        .replace(/>/g, '\\u003e')
        .replace(/\u2028/g, '\\u2028')
        .replace(/\u2029/g, '\\u2029');
}

function href(path: string, params: Record<string, string>): string {
    const query = Object.entries(params)
        .filter(([, v]) => v !== '')
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join('&');
    return query ? `${path}?${query}` : path;
}

function icon(sprite: 'standard' | 'utility', name: string): string {
    return `/assets/icons/${sprite}-sprite/svg/symbols.svg#${name}`;
}

function languageSwitch(lang: Language, path: string, q = ''): string {
    const items = LANGUAGES.map((l) => {
        const active = l === lang;
        const url = href(path, {
            ...(q ? { q } : {}),
            ...(l === 'en_US' ? {} : { lang: l })
        });
        return `<a class="slds-button ${active ? 'slds-button_brand' : 'slds-button_neutral'}" href="${escapeHtml(url)}" hreflang="${LANGUAGE_INFO[l].htmlLang}" data-lang="${l}"${active ? ' aria-current="true"' : ''}>${escapeHtml(LANGUAGE_INFO[l].name)}</a>`;
    }).join('');
    return `<div class="slds-button-group language-switch" role="group" aria-label="Language">${items}</div>`;
}

function shell(options: {
    lang: Language;
    title: string;
    body: string;
    context?: unknown;
    path: string;
    q?: string;
}): string {
    const { lang } = options;
    const script =
        options.context === undefined
            ? ''
            : `<script>window.__PREVIEW__ = ${inlineJson(options.context)};</script>
<script type="module" src="/preview/build/app.js"></script>`;
    return `<!doctype html>
<html lang="${LANGUAGE_INFO[lang].htmlLang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<link rel="stylesheet" href="/assets/styles/salesforce-lightning-design-system.min.css">
<link rel="stylesheet" href="/preview/page.css">
</head>
<body class="slds-scope">
<header class="preview-global-header">
  <div class="slds-grid slds-grid_vertical-align-center slds-p-horizontal_medium">
    <a class="preview-app-name slds-text-heading_small" href="${escapeHtml(href('/', lang === 'en_US' ? {} : { lang }))}">
      <span class="slds-icon_container slds-icon-standard-campaign-members slds-m-right_x-small"><svg class="slds-icon slds-icon_small" aria-hidden="true"><use href="${icon('standard', 'campaign_members')}"></use></svg></span>Opt-Out Sync
    </a>
    <span class="slds-badge slds-m-left_small">Local preview</span>
    <div class="slds-col_bump-left">${languageSwitch(lang, options.path, options.q)}</div>
  </div>
</header>
<div class="preview-brand-band"></div>
<main class="preview-page slds-p-around_small" data-preview-page>
${options.body}
</main>
${script}
</body>
</html>
`;
}

export interface PersonRow {
    id: string;
    objectName: 'Contact' | 'Lead';
    name: string;
    email: string | null;
    organisation: string | null;
    audiences: number;
}

/** The record picker: Contacts and Leads of the org, searchable by name or email. */
export function indexPage(options: {
    lang: Language;
    q: string;
    people: PersonRow[];
    limit: number;
    orgUrl: string;
    error?: string;
    warning?: string;
}): string {
    const { lang, q, people } = options;
    const warning = options.warning
        ? `<div class="slds-notify slds-notify_alert slds-alert_warning package-warning" role="alert"><h2>${escapeHtml(options.warning)}</h2></div>`
        : '';
    const rows = people
        .map(
            (p) => `<tr data-record-id="${escapeHtml(p.id)}">
  <th scope="row"><a href="${escapeHtml(href(`/record/${p.id}`, lang === 'en_US' ? {} : { lang }))}">${escapeHtml(p.name)}</a></th>
  <td>${escapeHtml(chromeText(lang, p.objectName))}</td>
  <td>${escapeHtml(p.email ?? '')}</td>
  <td>${escapeHtml(p.organisation ?? '')}</td>
  <td class="slds-text-align_right">${p.audiences}</td>
</tr>`
        )
        .join('\n');
    const empty = options.error
        ? `<div class="slds-notify slds-notify_alert slds-alert_error" role="alert"><h2>${escapeHtml(options.error)}</h2></div>`
        : people.length === 0
          ? `<p class="preview-empty slds-p-around_medium slds-text-color_weak">${
                q
                    ? `No Contact or Lead matches “${escapeHtml(q)}”.`
                    : 'The local org has no Contacts or Leads yet. Run <code>npm start</code> to load the demo data set.'
            }</p>`
          : '';
    const body = `<div class="slds-page-header slds-m-bottom_small">
  <div class="slds-page-header__row">
    <div class="slds-page-header__col-title">
      <div class="slds-media">
        <div class="slds-media__figure"><span class="slds-icon_container slds-icon-standard-contact"><svg class="slds-icon slds-page-header__icon" aria-hidden="true"><use href="${icon('standard', 'contact')}"></use></svg></span></div>
        <div class="slds-media__body">
          <h1 class="slds-page-header__title">People</h1>
          <p class="slds-page-header__name-meta">Contacts and Leads of the org at ${escapeHtml(options.orgUrl)} · pick one to open its record page</p>
        </div>
      </div>
    </div>
  </div>
</div>
${warning}
<article class="slds-card">
  <div class="slds-card__body slds-card__body_inner">
    <form method="get" action="/" class="slds-grid slds-grid_vertical-align-end slds-m-bottom_small" role="search">
      ${lang === 'en_US' ? '' : `<input type="hidden" name="lang" value="${lang}">`}
      <div class="slds-form-element slds-grow slds-m-right_small">
        <label class="slds-form-element__label" for="q">Search by name or email</label>
        <div class="slds-form-element__control"><input class="slds-input" id="q" name="q" type="search" value="${escapeHtml(q)}" autocomplete="off"></div>
      </div>
      <button class="slds-button slds-button_brand" type="submit">Search</button>
    </form>
    ${empty}
    ${
        people.length > 0
            ? `<table class="slds-table slds-table_cell-buffer slds-table_bordered people">
  <thead><tr class="slds-line-height_reset"><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Email</th><th scope="col">Account / Company</th><th scope="col" class="slds-text-align_right">Audiences</th></tr></thead>
  <tbody>
${rows}
  </tbody>
</table>
<p class="slds-text-body_small slds-text-color_weak slds-m-top_x-small">${people.length >= options.limit ? `The first ${options.limit} matches, by name. Search to narrow them down.` : `${people.length} ${people.length === 1 ? 'person' : 'people'}.`}</p>`
            : ''
    }
  </div>
</article>`;
    return shell({
        lang,
        title: 'People · Opt-Out Sync preview',
        body,
        path: '/',
        q
    });
}

export interface PersonRecord {
    id: string;
    objectName: 'Contact' | 'Lead';
    name: string;
    title: string | null;
    email: string | null;
    phone: string | null;
    organisation: string | null;
    emailOptOut: boolean | null;
    salesOptOut: boolean | null;
    /** The package's translated labels (Marketo Sales Opt Out, Email Preferences). */
    salesOptOutLabel: string;
    emailPreferencesLabel: string;
}

function readonlyField(label: string, value: string, field: string): string {
    return `<div class="slds-col slds-size_1-of-2 slds-p-horizontal_small">
  <div class="slds-form-element slds-form-element_readonly slds-form-element_stacked" data-field="${field}">
    <span class="slds-form-element__label">${escapeHtml(label)}</span>
    <div class="slds-form-element__control"><div class="slds-form-element__static">${value || '&nbsp;'}</div></div>
  </div>
</div>`;
}

function checkbox(checked: boolean | null): string {
    return `<span class="slds-checkbox slds-checkbox_standalone"><input type="checkbox" disabled${checked ? ' checked' : ''} aria-checked="${checked ? 'true' : 'false'}"><span class="slds-checkbox_faux"></span></span>`;
}

/** A record page: highlights panel, details, and the component's slot. */
export function recordPage(options: {
    lang: Language;
    recordId: string;
    objectName: string | undefined;
    person: PersonRecord | undefined;
    problem?: string;
    context: unknown;
}): string {
    const { lang, person } = options;
    const t = (key: string): string => chromeText(lang, key);
    const objectName = person?.objectName ?? options.objectName;
    const objectLabel = objectName ? t(objectName) : '';
    const iconName = objectName === 'Lead' ? 'lead' : 'contact';
    const orgLabel = objectName === 'Lead' ? t('company') : t('account');
    const highlights = person
        ? [
              [t('title'), person.title],
              [orgLabel, person.organisation],
              [t('phone'), person.phone],
              [t('email'), person.email]
          ]
              .map(
                  ([label, value]) =>
                      `<li class="slds-page-header__detail-block"><div class="slds-text-title slds-truncate">${escapeHtml(label)}</div><div class="slds-truncate">${escapeHtml(value ?? '')}</div></li>`
              )
              .join('')
        : '';
    const header = `<div class="slds-page-header slds-page-header_record-home preview-highlights">
  <div class="slds-page-header__row">
    <div class="slds-page-header__col-title">
      <div class="slds-media">
        <div class="slds-media__figure"><span class="slds-icon_container slds-icon-standard-${iconName}"><svg class="slds-icon slds-page-header__icon" aria-hidden="true"><use href="${icon('standard', iconName)}"></use></svg></span></div>
        <div class="slds-media__body">
          <div class="slds-page-header__name"><div class="slds-page-header__name-title"><h1>
            <span class="slds-page-header__name-meta">${escapeHtml(objectLabel)}</span>
            <span class="slds-page-header__title slds-truncate record-name">${escapeHtml(person?.name ?? options.recordId)}</span>
          </h1></div></div>
        </div>
      </div>
    </div>
    <div class="slds-page-header__col-actions"><div class="slds-page-header__controls"><div class="slds-page-header__control">
      <button class="slds-button slds-button_neutral" type="button" data-preview-refresh>
        <svg class="slds-button__icon slds-button__icon_left" aria-hidden="true"><use href="${icon('utility', 'refresh')}"></use></svg>${escapeHtml(t('refresh'))}
      </button>
    </div></div></div>
  </div>
  ${highlights ? `<div class="slds-page-header__row slds-page-header__row_gutters"><div class="slds-page-header__col-details"><ul class="slds-page-header__detail-row">${highlights}</ul></div></div>` : ''}
</div>`;
    const details = person
        ? `<div class="slds-grid slds-wrap">
${readonlyField(t('title'), escapeHtml(person.title ?? ''), 'Title')}
${readonlyField(orgLabel, escapeHtml(person.organisation ?? ''), objectName === 'Lead' ? 'Company' : 'Account')}
${readonlyField(t('email'), person.email ? `<a href="mailto:${escapeHtml(person.email)}">${escapeHtml(person.email)}</a>` : '', 'Email')}
${readonlyField(t('phone'), escapeHtml(person.phone ?? ''), 'Phone')}
</div>
<h3 class="slds-section__title slds-theme_shade slds-m-top_medium slds-p-horizontal_small">${escapeHtml(person.emailPreferencesLabel)}</h3>
<div class="slds-grid slds-wrap slds-m-top_x-small">
${readonlyField(t('emailOptOut'), checkbox(person.emailOptOut), 'HasOptedOutOfEmail')}
${person.salesOptOut === null ? '' : readonlyField(person.salesOptOutLabel, checkbox(person.salesOptOut), 'Marketo_Sales_Opt_Out__c')}
</div>`
        : `<div class="slds-scoped-notification slds-scoped-notification_light record-problem" role="status"><p>${escapeHtml(options.problem ?? t('notFound'))}</p></div>`;
    const body = `${header}
<div class="slds-grid slds-wrap slds-gutters_x-small slds-m-top_small">
  <div class="slds-col slds-size_1-of-1 slds-large-size_2-of-3">
    <article class="slds-card preview-details">
      <div class="slds-tabs_default slds-p-horizontal_medium">
        <ul class="slds-tabs_default__nav" role="tablist">
          <li class="slds-tabs_default__item slds-is-active" role="presentation"><a class="slds-tabs_default__link" role="tab" aria-selected="true" href="#">${escapeHtml(t('details'))}</a></li>
          <li class="slds-tabs_default__item" role="presentation"><span class="slds-tabs_default__link slds-text-color_weak" role="tab" aria-selected="false" aria-disabled="true">${escapeHtml(t('related'))}</span></li>
        </ul>
        <div class="slds-tabs_default__content slds-show" role="tabpanel">${details}</div>
      </div>
    </article>
  </div>
  <div class="slds-col slds-size_1-of-1 slds-large-size_1-of-3 preview-sidebar" data-component-slot></div>
</div>`;
    return shell({
        lang,
        title: `${person?.name ?? options.recordId} | ${objectLabel || 'Record'} | Opt-Out Sync preview`,
        body,
        context: options.context,
        path: `/record/${options.recordId}`
    });
}

/** A page for a request the preview cannot answer (bad language, unknown path). */
export function problemPage(
    lang: Language,
    status: number,
    message: string
): string {
    return shell({
        lang,
        title: `${status} · Opt-Out Sync preview`,
        body: `<div class="slds-notify slds-notify_alert slds-alert_error" role="alert"><h2>${escapeHtml(message)}</h2></div>
<p class="slds-m-top_small"><a href="/">Back to the record picker</a></p>`,
        path: '/'
    });
}

export const PAGE_CSS = `
body { background: #f3f3f3; min-height: 100vh; }
.preview-global-header { background: #fff; border-bottom: 1px solid #dddbda; height: 3.25rem; display: flex; align-items: center; position: relative; z-index: 2; }
.preview-global-header > .slds-grid { width: 100%; }
.preview-app-name { color: #181818; font-weight: 700; display: inline-flex; align-items: center; }
.preview-app-name:hover { text-decoration: none; }
.preview-brand-band { position: absolute; left: 0; right: 0; top: 3.25rem; height: 12rem; background: linear-gradient(180deg, #1b96ff33 0%, #f3f3f300 100%), #cfe3f7; z-index: 0; }
.preview-page { position: relative; z-index: 1; max-width: 1440px; margin: 0 auto; }
.preview-highlights { border-radius: .25rem; }
.preview-details { min-height: 20rem; }
.preview-details .slds-form-element_readonly { border-bottom: 1px solid #e5e5e5; }
.slds-section__title { font-size: .875rem; padding-top: .25rem; padding-bottom: .25rem; border-radius: .25rem; }
.language-switch .slds-button { text-decoration: none; }
table.people th a { font-weight: 400; }
/* SLDS 2.26x only declares the card body's inline spacing as styling hooks
   (@css-var-fallback) and leaves applying them to the platform's card: apply them. */
.slds-card__body_inner { padding-left: var(--slds-c-card-body-spacing-inline-start, 1rem); padding-right: var(--slds-c-card-body-spacing-inline-end, 1rem); }
`;

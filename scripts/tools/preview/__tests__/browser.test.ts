/**
 * The real audienceSubscriptions component, compiled from force-app, in Chromium on a
 * record page of an in-memory local org with the package deployed: memberships and
 * badges, opt-out fields, refresh, unsubscribe (confirmation, the org's row, toast),
 * empty and error states, four languages, no console errors. One browser, one page
 * per test.
 *
 * Chromium comes from Debian (scripts/tools/preview/install-chromium.sh installs it when
 * missing). Without it the tests are skipped with the reason, except in CI (CI set),
 * where they fail. PREVIEW_SCREENSHOTS=update writes the screenshots into
 * scripts/tools/preview/screenshots/ (npm run preview:screenshots); otherwise into a
 * temporary folder.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Ledger } from '../../../ledger/ledger';
import { DEFAULT_STATE_FILE, writeState } from '../../local-org/connect';
import {
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../local-org/testing';
import { to18 } from '../../../model/ids';
import { buildPreviewInChild } from '../build';
import { ensureChromium, launchChromium } from '../chromium';
import { startPreviewServer, type PreviewServer } from '../server';
import { PROJECT_ROOT } from '../../../model/project';

const chromiumStatus = ensureChromium();
if (!chromiumStatus.ok && process.env.CI) {
    throw new Error(
        `Browser tests must run in CI, but Chromium is missing: ${chromiumStatus.reason}`
    );
}
const describeInBrowser = chromiumStatus.ok ? describe : describe.skip;
if (!chromiumStatus.ok) {
    console.warn(
        `Skipping the browser tests of the preview: ${chromiumStatus.reason}`
    );
}

const execFileAsync = promisify(execFile);
const REPO = PROJECT_ROOT;
const PACKAGE = join(REPO, 'force-app', 'main', 'default');
const TRANSLATIONS = join(REPO, 'force-app-translations', 'main', 'default');
const SCREENSHOTS =
    process.env.PREVIEW_SCREENSHOTS === 'update'
        ? join(__dirname, '..', 'screenshots')
        : join(tmpdir(), 'optout-preview-screenshots');

/**
 * Label values read straight from the package's XML (not through the preview's own
 * loader, which is under test): English from CustomLabels, others from translations.
 */
function packageLabel(name: string, lang = 'en_US'): string {
    const decode = (s: string): string =>
        s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    if (lang === 'en_US') {
        const xml = readFileSync(
            join(PACKAGE, 'labels', 'CustomLabels.labels-meta.xml'),
            'utf8'
        );
        const m = new RegExp(
            `<fullName>${name}</fullName>[\\s\\S]*?<value\\s*>([\\s\\S]*?)</value>`
        ).exec(xml);
        if (!m) throw new Error(`no label ${name}`);
        return decode(m[1].trim());
    }
    const xml = readFileSync(
        join(TRANSLATIONS, 'translations', `${lang}.translation-meta.xml`),
        'utf8'
    );
    const m = new RegExp(
        `<label\\s*>([^<]*)</label>\\s*<name>${name}</name>`
    ).exec(xml);
    if (!m) throw new Error(`no ${lang} translation of ${name}`);
    return decode(m[1].trim());
}

function picklistTranslation(
    field: string,
    value: string,
    lang: string
): string {
    const xml = readFileSync(
        join(
            TRANSLATIONS,
            'objectTranslations',
            `Audience_Membership__c-${lang}`,
            `${field}.fieldTranslation-meta.xml`
        ),
        'utf8'
    );
    const m = new RegExp(
        `<masterLabel>${value}</masterLabel>\\s*<translation>([^<]*)</translation>`
    ).exec(xml);
    if (!m) throw new Error(`no ${lang} translation of ${field} ${value}`);
    return m[1];
}

function format(label: string, ...values: string[]): string {
    return label.replace(/\{(\d+)\}/g, (_, i: string) => values[Number(i)]);
}

/** Polls until the assertion passes (the card re-renders asynchronously). */
async function eventually(
    assertion: () => Promise<void>,
    timeoutMs = 20_000
): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        try {
            await assertion();
            return;
        } catch (err) {
            if (Date.now() > end) throw err;
            await new Promise((r) => setTimeout(r, 100));
        }
    }
}

interface OpenPage {
    page: Page;
    /** Console errors and uncaught exceptions of the page. */
    errors: string[];
}

const EXPECTED_RESOURCE_ERROR =
    /^Failed to load resource: the server responded with a status of (404|500)/;

describeInBrowser('audienceSubscriptions in Chromium (npm run preview)', () => {
    let org: TestOrg;
    let server: PreviewServer;
    let browser: Browser;
    let context: BrowserContext;
    let syncDir: string;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
        const [build, testOrg] = await Promise.all([
            buildPreviewInChild(join(tmpdir(), 'optout-preview-test-build')),
            startTestOrg({ deploy: true })
        ]);
        org = testOrg;
        const [account] = await seedRecords(org, 'Account', [
            { Name: 'Acme Corporation' }
        ]);
        [ids.ada, ids.grace] = await seedRecords(org, 'Contact', [
            {
                FirstName: 'Ada',
                LastName: 'Lovelace',
                Email: 'ada.lovelace@example.com',
                Title: 'Head of Analytics',
                Phone: '+1 415 555 0134',
                AccountId: account,
                Marketo_Sales_Opt_Out__c: true
            },
            {
                FirstName: 'Grace',
                LastName: 'Hopper',
                Email: 'grace.hopper@example.com'
            }
        ]);
        [ids.lead] = await seedRecords(org, 'Lead', [
            {
                FirstName: 'Katherine',
                LastName: 'Johnson',
                Company: 'Langley Research',
                Email: 'katherine@example.com'
            }
        ]);
        const ada = to18(ids.ada);
        const membership = (
            audienceId: string,
            name: string,
            status: string,
            source: string,
            changedAt: string,
            extra: Record<string, unknown> = {}
        ): Record<string, unknown> => ({
            Contact__c: ada,
            Audience_Id__c: audienceId,
            Audience_Name__c: name,
            Email__c: 'ada.lovelace@example.com',
            Status__c: status,
            Source__c: source,
            Status_Changed_At__c: changedAt,
            Membership_Key__c: `${audienceId}:${ada}`,
            ...extra
        });
        [ids.newsletter, ids.events, ids.product, ids.partners] =
            await seedRecords(org, 'Audience_Membership__c', [
                membership(
                    'a1',
                    'Monthly Newsletter',
                    'Subscribed',
                    'Platform',
                    '2025-03-14T16:30:00.000Z'
                ),
                membership(
                    'a2',
                    'Events & Webinars',
                    'Unsubscribed',
                    'Webhook',
                    '2025-02-01T17:05:00.000Z',
                    { Unsubscribe_Reason__c: 'Too many emails' }
                ),
                membership(
                    'a3',
                    'Product Updates',
                    'Pending',
                    'Import',
                    '2025-04-02T18:00:00.000Z'
                ),
                membership(
                    'a4',
                    'Partner Offers',
                    'Cleaned',
                    'Platform',
                    '2024-11-20T16:00:00.000Z'
                )
            ]);
        await seedRecords(org, 'Audience_Membership__c', [
            {
                Lead__c: to18(ids.lead),
                Audience_Id__c: 'a1',
                Audience_Name__c: 'Monthly Newsletter',
                Status__c: 'Subscribed',
                Source__c: 'Platform',
                Membership_Key__c: `a1:${to18(ids.lead)}`
            }
        ]);
        server = await startPreviewServer({
            org,
            buildDir: build.outDir
        });
        if (!chromiumStatus.ok) throw new Error(chromiumStatus.reason);
        browser = await launchChromium(chromiumStatus.executablePath);
        context = await browser.newContext({
            viewport: { width: 1280, height: 860 },
            locale: 'en-US'
        });
        mkdirSync(SCREENSHOTS, { recursive: true });
        syncDir = mkdtempSync(join(tmpdir(), 'optout-preview-sync-'));
        writeState(join(syncDir, DEFAULT_STATE_FILE), {
            instanceUrl: org.instanceUrl,
            accessToken: org.accessToken,
            pid: process.pid,
            port: org.org.port,
            dbPath: ':memory:',
            orgId: org.org.orgId,
            username: org.org.username,
            startedAt: new Date().toISOString()
        });
    }, 300_000);

    afterAll(async () => {
        if (syncDir) rmSync(syncDir, { recursive: true, force: true });
        await context?.close();
        await browser?.close();
        await server?.close();
        await org?.close();
    });

    /**
     * `optout sync hourly --target-org local` as a user runs it (the CLI in its own
     * process), against this test's org: a scratch folder holds the local org's state
     * file (pointing at the in-memory org) and the ledger.
     */
    async function syncHourly(): Promise<Record<string, unknown>> {
        const { stdout } = await execFileAsync(
            process.execPath,
            [
                join(REPO, 'bin', 'optout'),
                'sync',
                'hourly',
                '--target-org',
                'local',
                '--ledger',
                join(syncDir, 'ledger.db'),
                '--json'
            ],
            { cwd: syncDir, timeout: 120_000 }
        );
        return (JSON.parse(stdout) as { result: Record<string, unknown> })
            .result;
    }

    /** Opens a record page and waits until the card shows rows, empty or error. */
    async function open(recordId: string, lang?: string): Promise<OpenPage> {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('console', (message) => {
            if (message.type() === 'error') errors.push(message.text());
        });
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(
            `${server.url}/record/${recordId}${lang ? `?lang=${lang}` : ''}`
        );
        await card(page)
            .locator('li.membership, p.empty, .error-panel')
            .first()
            .waitFor({ timeout: 30_000 });
        return { page, errors };
    }

    function card(page: Page) {
        return page.locator('c-audience-subscriptions');
    }

    async function rows(page: Page) {
        const items = card(page).locator('li.membership');
        const out: Array<{
            name: string;
            badge: string;
            badgeClass: string;
            status: string | null;
            canUnsubscribe: boolean;
            pendingPush: boolean;
        }> = [];
        for (let i = 0; i < (await items.count()); i++) {
            const item = items.nth(i);
            const badge = item.locator('lightning-badge');
            out.push({
                name: (await item.locator('.audience-name').innerText()).trim(),
                badge: (await badge.innerText()).trim(),
                badgeClass: (await badge.getAttribute('class')) ?? '',
                status: await badge.getAttribute('data-status'),
                canUnsubscribe:
                    (await item
                        .locator('lightning-button.unsubscribe')
                        .count()) > 0,
                pendingPush: (await item.locator('.pending-push').count()) > 0
            });
        }
        return out;
    }

    async function cardTitle(page: Page): Promise<string> {
        return (
            await card(page).locator('.slds-card__header-title').innerText()
        ).trim();
    }

    async function optOut(page: Page, key: string) {
        const dd = card(page).locator(`dd[data-field="${key}"]`);
        return {
            text: (await dd.innerText()).trim(),
            className: (await dd.getAttribute('class')) ?? ''
        };
    }

    it('renders the memberships with their status badges, details and the opt-out fields', async () => {
        const { page, errors } = await open(ids.ada);
        expect(await cardTitle(page)).toBe(
            `${packageLabel('Audience_Subscriptions_Title')} (4)`
        );
        // Alphabetical by audience name (the component's sortBy), one badge each.
        expect(await rows(page)).toEqual([
            expect.objectContaining({
                name: 'Events & Webinars',
                badge: 'Unsubscribed',
                status: 'Unsubscribed',
                canUnsubscribe: false
            }),
            expect.objectContaining({
                name: 'Monthly Newsletter',
                badge: 'Subscribed',
                status: 'Subscribed',
                canUnsubscribe: true
            }),
            expect.objectContaining({
                name: 'Partner Offers',
                badge: 'Cleaned',
                status: 'Cleaned',
                canUnsubscribe: false
            }),
            expect.objectContaining({
                name: 'Product Updates',
                badge: 'Pending',
                status: 'Pending',
                canUnsubscribe: true
            })
        ]);
        const classes = (await rows(page)).map((r) => r.badgeClass);
        expect(classes[0]).toContain('slds-theme_error');
        expect(classes[1]).toContain('slds-theme_success');
        expect(classes[2]).toContain('slds-theme_error');
        expect(classes[3]).toContain('slds-theme_warning');
        expect((await rows(page)).some((r) => r.pendingPush)).toBe(false);

        // Source shows the picklist label from the org's describe; reason when set.
        const events = card(page).locator('li.membership').first();
        expect((await events.locator('.source').innerText()).trim()).toBe(
            'Webhook'
        );
        expect((await events.locator('.reason').innerText()).trim()).toBe(
            'Too many emails'
        );
        const newsletter = card(page).locator('li.membership').nth(1);
        expect((await newsletter.locator('.source').innerText()).trim()).toBe(
            'Marketing platform'
        );
        expect(
            (await newsletter.locator('.changed-at').innerText()).trim()
        ).toMatch(/2025/);

        // Email Opt Out false, Marketo Sales Opt Out true (in the error colour).
        expect(await optOut(page, 'emailOptOut')).toEqual({
            text: packageLabel('Audience_Subscriptions_No'),
            className: expect.not.stringContaining('slds-text-color_error')
        });
        expect(await optOut(page, 'salesOptOut')).toEqual({
            text: packageLabel('Audience_Subscriptions_Yes'),
            className: expect.stringContaining('slds-text-color_error')
        });

        // The record page around it: the person's name in the highlights panel.
        expect((await page.locator('.record-name').innerText()).trim()).toBe(
            'Ada Lovelace'
        );
        expect(errors).toEqual([]);
        await page.close();
    }, 90_000);

    it('works on a Lead record page too', async () => {
        const { page, errors } = await open(ids.lead);
        expect((await rows(page)).map((r) => r.name)).toEqual([
            'Monthly Newsletter'
        ]);
        expect(
            (
                await page.locator('.slds-page-header__name-meta').innerText()
            ).trim()
        ).toBe('Lead');
        expect(errors).toEqual([]);
        await page.close();
    });

    it('re-reads the org on the refresh button and on a page refresh (RefreshEvent)', async () => {
        const { page, errors } = await open(ids.ada);
        // Changes made behind the page's back, through the REST API.
        await org.conn.sobject('Audience_Membership__c').update({
            Id: ids.product,
            Status__c: 'Subscribed',
            Source__c: 'Platform'
        });
        await seedRecords(org, 'Audience_Membership__c', [
            {
                Contact__c: to18(ids.ada),
                Audience_Id__c: 'a5',
                Audience_Name__c: 'Customer Stories',
                Status__c: 'Subscribed',
                Source__c: 'Platform',
                Status_Changed_At__c: '2025-05-06T15:45:00.000Z',
                Membership_Key__c: `a5:${to18(ids.ada)}`
            }
        ]);
        // Nothing changes until a refresh: the card shows what it read.
        expect(await cardTitle(page)).toBe(
            `${packageLabel('Audience_Subscriptions_Title')} (4)`
        );

        await card(page)
            .locator('lightning-button-icon.refresh button')
            .click();
        await eventually(async () => {
            expect(await cardTitle(page)).toBe(
                `${packageLabel('Audience_Subscriptions_Title')} (5)`
            );
            const list = await rows(page);
            expect(list.map((r) => r.name)).toContain('Customer Stories');
            expect(list.find((r) => r.name === 'Product Updates')).toEqual(
                expect.objectContaining({
                    badge: 'Subscribed',
                    badgeClass: expect.stringContaining('slds-theme_success')
                })
            );
        });

        // The page's own refresh (RefreshEvent) runs the component's refresh handler.
        await org.conn
            .sobject('Contact')
            .update({ Id: ids.ada, HasOptedOutOfEmail: true });
        await page.locator('[data-preview-refresh]').click();
        await eventually(async () => {
            expect(await optOut(page, 'emailOptOut')).toEqual({
                text: packageLabel('Audience_Subscriptions_Yes'),
                className: expect.stringContaining('slds-text-color_error')
            });
        });
        expect(
            await page
                .locator('[data-preview-page]')
                .getAttribute('data-refresh-status')
        ).toBe('RefreshComplete');
        await org.conn
            .sobject('Contact')
            .update({ Id: ids.ada, HasOptedOutOfEmail: false });
        expect(errors).toEqual([]);
        await page.close();
    }, 90_000);

    it('unsubscribes after confirmation: the org row becomes Unsubscribed, pending, from Salesforce, and a toast shows', async () => {
        const { page, errors } = await open(ids.ada);
        const newsletter = card(page)
            .locator('li.membership')
            .filter({ hasText: 'Monthly Newsletter' });
        const modal = page.locator('.slds-modal');

        // Cancel changes nothing.
        await newsletter.locator('lightning-button.unsubscribe button').click();
        await modal.waitFor();
        expect(await modal.innerText()).toContain(
            format(
                packageLabel('Audience_Subscriptions_Confirm_Message'),
                'Monthly Newsletter'
            )
        );
        await modal.getByRole('button', { name: 'Cancel' }).click();
        await modal.waitFor({ state: 'detached' });
        const before = await org.conn.retrieve(
            'Audience_Membership__c',
            ids.newsletter
        );
        expect(before).toEqual(
            expect.objectContaining({
                Status__c: 'Subscribed',
                Pending_Push__c: false
            })
        );

        // OK unsubscribes.
        const clickedAt = Date.now();
        await newsletter.locator('lightning-button.unsubscribe button').click();
        await modal.waitFor();
        expect(
            (
                await modal
                    .locator('.slds-modal__title, h1, h2')
                    .first()
                    .innerText()
            ).trim()
        ).toBe(packageLabel('Audience_Subscriptions_Confirm_Title'));
        await modal.getByRole('button', { name: 'OK' }).click();

        const toast = page.locator('lightning-toast').first();
        await toast.waitFor({ timeout: 15_000 });
        const toastText = await toast.innerText();
        expect(toastText).toContain(
            packageLabel('Audience_Subscriptions_Success_Title')
        );
        expect(toastText).toContain(
            format(
                packageLabel('Audience_Subscriptions_Success_Message'),
                'Monthly Newsletter'
            )
        );
        expect(
            await toast.locator('.slds-notify_toast').getAttribute('class')
        ).toContain('slds-theme_success');

        const saved = (await org.conn.retrieve(
            'Audience_Membership__c',
            ids.newsletter
        )) as unknown as Record<string, unknown>;
        expect(saved).toEqual(
            expect.objectContaining({
                Status__c: 'Unsubscribed',
                Pending_Push__c: true,
                Source__c: 'Salesforce'
            })
        );
        const changedAt = Date.parse(
            String(saved.Status_Changed_At__c).replace(/\+0000$/, 'Z')
        );
        expect(Math.abs(changedAt - clickedAt)).toBeLessThan(60_000);

        // The card shows the new state: badge, pending line, no button.
        await eventually(async () => {
            expect(
                (await rows(page)).find((r) => r.name === 'Monthly Newsletter')
            ).toEqual(
                expect.objectContaining({
                    badge: 'Unsubscribed',
                    badgeClass: expect.stringContaining('slds-theme_error'),
                    canUnsubscribe: false,
                    pendingPush: true
                })
            );
        });
        expect(
            (await newsletter.locator('.pending-push').innerText()).trim()
        ).toBe(packageLabel('Audience_Subscriptions_Pending_Push'));
        await page.screenshot({
            path: join(SCREENSHOTS, 'unsubscribed-en_US.png'),
            fullPage: true
        });

        // The next `optout sync hourly --target-org local` takes it to the ledger
        // (R5 c) and clears the pending flag; the card shows that after a refresh.
        const sync = await syncHourly();
        expect(sync).toMatchObject({
            status: 'succeeded',
            ledgerUnsubscribesAdded: 1
        });
        const ledger = await Ledger.open(join(syncDir, 'ledger.db'));
        try {
            expect(
                (await ledger.history('ada.lovelace@example.com')).unsubscribes
            ).toEqual([
                expect.objectContaining({
                    scope: 'audience',
                    audienceId: 'a1',
                    source: 'salesforce'
                })
            ]);
            expect((await ledger.getAudience('a1'))?.name).toBe(
                'Monthly Newsletter'
            );
        } finally {
            await ledger.close();
        }
        expect(
            await org.conn.retrieve('Audience_Membership__c', ids.newsletter)
        ).toEqual(
            expect.objectContaining({
                Status__c: 'Unsubscribed',
                Pending_Push__c: false
            })
        );
        await card(page)
            .locator('lightning-button-icon.refresh button')
            .click();
        await eventually(async () => {
            expect(
                (await rows(page)).find((r) => r.name === 'Monthly Newsletter')
            ).toEqual(
                expect.objectContaining({
                    badge: 'Unsubscribed',
                    pendingPush: false
                })
            );
        });
        expect(errors).toEqual([]);
        await page.close();
    }, 180_000);

    it('shows the empty state for a person without memberships', async () => {
        const { page, errors } = await open(ids.grace);
        expect((await card(page).locator('p.empty').innerText()).trim()).toBe(
            packageLabel('Audience_Subscriptions_Empty')
        );
        expect(await cardTitle(page)).toBe(
            `${packageLabel('Audience_Subscriptions_Title')} (0)`
        );
        expect(await card(page).locator('li.membership').count()).toBe(0);
        expect(errors).toEqual([]);
        await page.close();
    });

    it('shows the error state when the org fails its requests', async () => {
        org.admin.setFaults('500:1@query');
        let opened: OpenPage;
        try {
            opened = await open(ids.ada);
        } finally {
            org.admin.clearFaults();
        }
        const { page, errors } = opened;
        const panel = card(page).locator('.error-panel');
        expect(await panel.innerText()).toContain(
            packageLabel('Audience_Subscriptions_Load_Error')
        );
        expect(
            (await panel.locator('.error-messages li').allInnerTexts()).length
        ).toBeGreaterThan(0);
        expect(await card(page).locator('li.membership').count()).toBe(0);
        // The only console errors are the browser's notes of the failed requests.
        expect(errors.length).toBeGreaterThan(0);
        expect(errors.filter((e) => !EXPECTED_RESOURCE_ERROR.test(e))).toEqual(
            []
        );

        // Once the org answers again, the refresh button recovers the card.
        await card(page)
            .locator('lightning-button-icon.refresh button')
            .click();
        await eventually(async () => {
            expect(await card(page).locator('.error-panel').count()).toBe(0);
            expect(await card(page).locator('li.membership').count()).toBe(5);
        });
        await page.close();
    }, 90_000);

    it('shows the error state for a record that does not exist', async () => {
        const { page, errors } = await open('003000000000000AAA');
        const messages = await card(page)
            .locator('.error-panel .error-messages li')
            .allInnerTexts();
        expect(messages).toContain('The requested resource does not exist');
        expect(errors.filter((e) => !EXPECTED_RESOURCE_ERROR.test(e))).toEqual(
            []
        );
        await page.close();
    });

    it.each([['en_US'], ['fr'], ['zh_CN'], ['ja']])(
        'shows the card in %s from the package labels and translations (and screenshots it)',
        async (lang) => {
            const { page, errors } = await open(ids.ada, lang);
            const title = packageLabel('Audience_Subscriptions_Title', lang);
            expect(await cardTitle(page)).toBe(`${title} (5)`);
            const badges = (await rows(page)).map((r) => r.badge);
            const statuses = ['Subscribed', 'Unsubscribed', 'Cleaned'];
            const translated = lang !== 'en_US';
            // Other languages: a translated title, and the picklist display values
            // from the package's object translations instead of the English ones.
            expect(title === packageLabel('Audience_Subscriptions_Title')).toBe(
                !translated
            );
            expect(badges).toEqual(
                expect.arrayContaining(
                    statuses.map((status) =>
                        translated
                            ? picklistTranslation('Status__c', status, lang)
                            : status
                    )
                )
            );
            const englishShown = [
                ...new Set(badges.filter((b) => statuses.includes(b)))
            ].sort();
            expect(englishShown).toEqual(
                translated ? [] : [...statuses].sort()
            );
            expect(
                (await card(page).locator('.memberships h3').innerText()).trim()
            ).toBe(packageLabel('Audience_Subscriptions_Audiences', lang));
            expect(
                await card(page).locator('li.membership dt').first().innerText()
            ).toBe(packageLabel('Audience_Subscriptions_Last_Changed', lang));
            expect(await page.locator('html').getAttribute('lang')).toBe(
                { en_US: 'en', fr: 'fr', zh_CN: 'zh-CN', ja: 'ja' }[lang]
            );
            // At the sidebar's width no label or value is cut off: long ones wrap.
            const cutOff = await card(page)
                .locator('dt, dd')
                .evaluateAll((cells) =>
                    cells
                        .filter((c) => c.scrollWidth > c.clientWidth)
                        .map((c) => c.textContent?.trim())
                );
            expect(cutOff).toEqual([]);
            await page.screenshot({
                path: join(SCREENSHOTS, `record-page-${lang}.png`),
                fullPage: true
            });
            await card(page).screenshot({
                path: join(SCREENSHOTS, `card-${lang}.png`)
            });
            expect(errors).toEqual([]);
            await page.close();
        },
        60_000
    );
});

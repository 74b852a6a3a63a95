/**
 * The browser of the preview's tests and screenshots: Debian's Chromium (installed by
 * install-chromium.sh when missing), or another Chrome the machine has, driven by
 * playwright-core (which downloads no browser of its own).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';

type PlaywrightCore = typeof import('playwright-core');

export const INSTALL_SCRIPT = join(__dirname, 'install-chromium.sh');

export const CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-gpu',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run'
];

const CANDIDATES = [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome-stable',
    '/usr/bin/google-chrome'
];

/** Ubuntu's chromium-browser is a small script that asks for the snap: not a browser. */
function isSnapShim(path: string): boolean {
    try {
        if (statSync(path).size > 64 * 1024) return false;
        return /snap/.test(readFileSync(path, 'latin1'));
    } catch {
        return false;
    }
}

/** The browser to drive: $PREVIEW_CHROMIUM, else the first usable candidate. */
export function findChromium(
    env: NodeJS.ProcessEnv = process.env
): string | undefined {
    if (env.PREVIEW_CHROMIUM) {
        return existsSync(env.PREVIEW_CHROMIUM)
            ? env.PREVIEW_CHROMIUM
            : undefined;
    }
    return CANDIDATES.find((p) => existsSync(p) && !isSnapShim(p));
}

export type ChromiumStatus =
    | { ok: true; executablePath: string; installed: boolean }
    | { ok: false; reason: string };

/**
 * Finds Chromium, running install-chromium.sh first when there is none (apt-get; needs
 * root or password-less sudo). Synchronous, so that a test file can decide at load
 * time whether its browser tests run.
 */
export function ensureChromium(
    env: NodeJS.ProcessEnv = process.env
): ChromiumStatus {
    const found = findChromium(env);
    if (found) return { ok: true, executablePath: found, installed: false };
    if (env.PREVIEW_CHROMIUM) {
        return {
            ok: false,
            reason: `PREVIEW_CHROMIUM=${env.PREVIEW_CHROMIUM} does not exist`
        };
    }
    const run = spawnSync('bash', [INSTALL_SCRIPT], {
        encoding: 'utf8',
        timeout: 15 * 60_000,
        env: { ...env, DEBIAN_FRONTEND: 'noninteractive' }
    });
    const after = findChromium(env);
    if (after) return { ok: true, executablePath: after, installed: true };
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
    return {
        ok: false,
        reason: `Chromium is not installed and ${INSTALL_SCRIPT} could not install it (exit ${run.status ?? run.signal ?? run.error?.message}): ${output.split('\n').slice(-5).join(' | ')}`
    };
}

/** Starts a headless browser with the settings that work in containers and CI. */
export async function launchChromium(executablePath: string): Promise<Browser> {
    // Loaded on use: only the preview's browser tests need it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { chromium } = require('playwright-core') as PlaywrightCore;
    return chromium.launch({
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS
    });
}

/**
 * Every command of the `optout` CLI, one file each. Add a command by adding its module here.
 */
import type { CommandModule } from '../command';
import { register as demo } from './demo';
import { register as exportData } from './export';
import { register as deploy } from './deploy';
import { register as history } from './history';
import { register as importCsv } from './import';
import { register as localOrg } from './local-org';
import { register as mailchimp } from './mailchimp';
import { register as resubscribe } from './resubscribe';
import { register as retry } from './retry';
import { register as schedule } from './schedule';
import { register as serve } from './serve';
import { register as settings } from './settings';
import { register as status } from './status';
import { register as sync } from './sync';
import { register as unsubscribe } from './unsubscribe';

export const commands: CommandModule[] = [
    importCsv,
    unsubscribe,
    resubscribe,
    history,
    status,
    retry,
    localOrg,
    sync,
    deploy,
    settings,
    serve,
    schedule,
    demo,
    mailchimp,
    exportData
];

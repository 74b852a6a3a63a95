/**
 * Every command of the `optout` CLI, one file each. Add a command by adding its module here.
 */
import type { CommandModule } from '../command';

export const commands: CommandModule[] = [];

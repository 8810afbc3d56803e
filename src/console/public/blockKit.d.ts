/** Types for blockKit.js (plain browser JavaScript). The project's TypeScript has no DOM lib,
 * so DOM elements are typed structurally here. */
import type { MrkdwnLookup } from './mrkdwn.js';

/** A DOM element (HTMLElement in the browser). */
export interface DomElement {
  readonly outerHTML: string;
  readonly textContent: string | null;
}

export interface BlockAction {
  /** The block's block_id ('' when the bot set none). */
  blockId: string;
  actionId: string;
  value?: string;
}

export interface BlockContext {
  lookup?: MrkdwnLookup;
  /** Called for a button click after its confirm dialog; without it buttons are disabled. */
  onAction?(action: BlockAction): Promise<unknown>;
  /** Error messages by block_id, shown under input blocks. */
  errors?: Record<string, string>;
}

/** Confirm object of a button (Block Kit). */
export interface ConfirmObject {
  title?: { type: string; text: string };
  text?: { type: string; text: string };
  confirm?: { type: string; text: string };
  deny?: { type: string; text: string };
  style?: 'primary' | 'danger';
}

export function renderBlocks(blocks: unknown[] | undefined, ctx: BlockContext): DomElement;

/** Shows a confirm object as an alert dialog; true when confirmed. */
export function confirmDialog(confirm: ConfirmObject, lookup?: MrkdwnLookup): Promise<boolean>;

/** Shows errors (by block_id) under the input blocks in root, clearing the others. */
export function showInputErrors(root: DomElement, errors?: Record<string, string>): void;

/** Current input values as values[block_id][action_id]. */
export function inputValues(root: DomElement): Record<string, Record<string, string>>;

/** Puts values from inputValues back into matching inputs. */
export function restoreInputValues(root: DomElement, values: Record<string, Record<string, string>>): void;

/** "Please fill out this field." for each empty required input, by block_id. */
export function missingInputErrors(root: DomElement): Record<string, string>;

import type { KnownBlock } from '@slack/types';

/** Block Kit limits (docs: reference/block-kit; @slack/types). Over them Slack answers invalid_blocks. */
export const LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  blockId: 255,
} as const;

/**
 * Every limit a message's blocks must respect, as a list of violations (empty when valid).
 * Views are built to fit; this is what tests and a last check before posting rely on.
 */
export function blockViolations(blocks: readonly KnownBlock[]): string[] {
  const problems: string[] = [];
  if (blocks.length > LIMITS.blocksPerMessage)
    problems.push(`${blocks.length} blocks (max ${LIMITS.blocksPerMessage})`);
  blocks.forEach((block, index) => {
    const where = `block ${index} (${block.type})`;
    if (block.block_id && block.block_id.length > LIMITS.blockId)
      problems.push(`${where}: block_id too long`);
    if (block.type === 'header' && block.text.text.length > LIMITS.headerText) {
      problems.push(`${where}: header text ${block.text.text.length} > ${LIMITS.headerText}`);
    }
    if (block.type === 'section') {
      if (block.text && block.text.text.length > LIMITS.sectionText) {
        problems.push(`${where}: text ${block.text.text.length} > ${LIMITS.sectionText}`);
      }
      if (block.accessory?.type === 'button') problems.push(...buttonViolations(block.accessory, where));
    }
    if (block.type === 'context' && block.elements.length > LIMITS.contextElements) {
      problems.push(`${where}: ${block.elements.length} elements > ${LIMITS.contextElements}`);
    }
    if (block.type === 'actions') {
      if (block.elements.length > LIMITS.actionsElements) problems.push(`${where}: too many elements`);
      for (const element of block.elements) {
        if (element.type === 'button') problems.push(...buttonViolations(element, where));
      }
    }
  });
  return problems;
}

function buttonViolations(
  button: { text: { text: string }; value?: string; action_id?: string },
  where: string,
): string[] {
  const problems: string[] = [];
  if (button.text.text.length > LIMITS.buttonText) problems.push(`${where}: button text too long`);
  if ((button.value?.length ?? 0) > LIMITS.buttonValue) problems.push(`${where}: button value too long`);
  if ((button.action_id?.length ?? 0) > LIMITS.actionId) problems.push(`${where}: action_id too long`);
  return problems;
}

/**
 * A Slack channel id as configuration and job payloads accept it (C0123ABCD, G…, D…): one
 * rule, so a channel the configuration accepts is never refused by a job, or the reverse.
 */
export const CHANNEL_ID = /^[A-Z0-9]{3,}$/;

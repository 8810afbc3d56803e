/** Interactive element ids the bot listens for; views and handlers import them from here. */
export const ACTIONS = {
  healthRerun: 'health_rerun',
  healthDetails: 'health_details',
} as const;

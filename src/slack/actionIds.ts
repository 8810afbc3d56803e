/** Interactive element ids the bot listens for; views and handlers import them from here. */
export const ACTIONS = {
  healthRerun: 'health_rerun',
  healthDetails: 'health_details',
  stepPreview: 'step_preview',
  manualDone: 'manual_done',
  requestApproval: 'request_approval',
  approve: 'approve_action',
  reject: 'reject_action',
  declareIncident: 'declare_incident',
  incidentReport: 'incident_report',
  incidentResolve: 'incident_resolve',
  /** The modal that asks for an action's missing parameters. */
  parametersModal: 'step_parameters',
} as const;

/** Row types of compliance operations (migration 028, src/compliance). */
export interface ThirdPartiesTable {
  id: string;
  tenant_id: string;
  name: string;
  doc: string;
  created_at: number;
  updated_at: number;
}

export interface ComplianceMarksTable {
  tenant_id: string;
  mark: string;
  raised_at: number;
}

export interface IncidentsTable {
  id: string;
  tenant_id: string;
  doc: string;
  opened_at: number;
  updated_at: number;
}

export interface IncidentRemindersTable {
  id: string;
  incident_id: string;
  tenant_id: string;
  regime: string;
  /** `reminder` (before the deadline) or `deadline` (the deadline itself). */
  kind: string;
  offset_ms: number;
  deadline_at: number;
  due_at: number;
  sent_at: number | null;
}

export interface AnomalyCountsTable {
  tenant_id: string;
  scope: string;
  metric: string;
  bucket: number;
  n: number;
}

export interface AnomalySeenTable {
  tenant_id: string;
  key_id: string;
  address: string;
  first_at: number;
}

export interface ComplianceTables {
  third_parties: ThirdPartiesTable;
  compliance_marks: ComplianceMarksTable;
  incidents: IncidentsTable;
  incident_reminders: IncidentRemindersTable;
  anomaly_counts: AnomalyCountsTable;
  anomaly_seen: AnomalySeenTable;
}

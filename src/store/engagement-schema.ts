/** Row types of the engagement tables (migration 018; src/content uses them through the repositories). */
export interface TrackingSettingsTable {
  tenant_id: string;
  /** The tenant's tracking host (CNAME to the node), '' for the node's public URL. */
  domain: string;
  /** JSON arrays of streams tracked when a send does not say. */
  opens_streams: string;
  clicks_streams: string;
  updated_at: number;
}

export interface TrackingMarksTable {
  key: string;
  until_at: number;
}

export interface ExperimentsTable {
  id: string;
  tenant_id: string;
  name: string;
  status: string;
  variants: string;
  metrics: string;
  /** Once stopped or rolled back: the variant every later send gets. */
  serve_variant: string | null;
  created_at: number;
}

export interface ExperimentAssignmentsTable {
  message_id: string;
  experiment_id: string;
  recipient: string;
  variant: string;
  in_sample: number;
  created_at: number;
}

export interface ExperimentFlagsTable {
  key: string;
  experiment_id: string;
  at: number;
}

export interface ListsTable {
  id: string;
  tenant_id: string;
  name: string;
  created_at: number;
}

export interface ListMembersTable {
  list_id: string;
  address: string;
  fields: string;
  import_id: string;
  created_at: number;
}

export interface ListImportsTable {
  id: string;
  list_id: string;
  tenant_id: string;
  created_at: number;
  rows: number;
  added: number;
  summary: string;
}

export interface ListImportFindingsTable {
  import_id: string;
  row: number;
  address: string;
  findings: string;
}

export interface EngagementTables {
  tracking_settings: TrackingSettingsTable;
  tracking_marks: TrackingMarksTable;
  experiments: ExperimentsTable;
  experiment_assignments: ExperimentAssignmentsTable;
  experiment_flags: ExperimentFlagsTable;
  lists: ListsTable;
  list_members: ListMembersTable;
  list_imports: ListImportsTable;
  list_import_findings: ListImportFindingsTable;
}

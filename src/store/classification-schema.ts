/** Row types of migration 029 (classification and DLP, self-assessment; docs/classification.md). */
export interface ClassificationPoliciesTable {
  tenant_id: string;
  /** JSON rules document, validated by src/classification before it is stored. */
  doc: string;
  updated_at: number;
}

export interface SelfAssessmentsTable {
  id: string;
  started_at: number;
  finished_at: number;
  /** 'pass' | 'findings' */
  status: string;
  /** JSON array of dated findings. */
  findings: string;
}

export interface ClassificationTables {
  classification_policies: ClassificationPoliciesTable;
  self_assessments: SelfAssessmentsTable;
}

export {
  builtInClassifications,
  type ClassificationPolicy,
  type ClassificationRules,
  parseClassificationRules,
  type RequiredTls,
  requiredTlsLevels,
} from './classification-rules.js';
export { CLASSIFICATION_HEADER, type Classification, createClassification } from './classification-service.js';
export { type ClassificationDecision, classify } from './classifier.js';
export { countCardNumbers, countIbans, countUsSsns, ibanValid, luhnValid, nhsNumberValid, ssnValid } from './content-detectors.js';

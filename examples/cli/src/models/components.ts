// Registers the example's own model with @fae/core's component registry (a side effect of importing
// this file): the DigitClassifier that judges generated digits. The digit encoder is a Dinov2Model,
// registered by @fae/encoders.
import { registerComponent } from '@fae/core';
import { DigitClassifier, type DigitClassifierConfig } from './digit-classifier.js';

export const DIGIT_CLASSIFIER_CLASS = 'DigitClassifier';

registerComponent(DIGIT_CLASSIFIER_CLASS, {
  type: DigitClassifier,
  create: (config: DigitClassifierConfig) => new DigitClassifier(config),
  configOf: (m: DigitClassifier) => m.config,
});

'use strict';
// Accessibility matchers (toBeAccessible) for the component tests.
const { registerSa11yMatcher } = require('@sa11y/jest');

registerSa11yMatcher();

// The Consents page (issue 15). Placeholder until built.
import { placeholder } from "./placeholder";

export const consentsPage = placeholder("consents", "Consents", "Consent requests");

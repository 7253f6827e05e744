// The Audit page (issue 15). Placeholder until built.
import { placeholder } from "./placeholder";

export const auditPage = placeholder("audit", "Audit", "The custodians' logs");

// The portal's pages, in nav order.
import { auditPage } from "./audit";
import { consentsPage } from "./consents";
import { devicesPage } from "./devices";
import { inboxPage } from "./inbox";
import { recordingsPage } from "./recordings";
import type { Page } from "./types";

export const PAGES: readonly Page[] = [recordingsPage, inboxPage, consentsPage, devicesPage, auditPage];

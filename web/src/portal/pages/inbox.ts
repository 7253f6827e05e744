// The Inbox page (issue 15). Placeholder until built.
import { placeholder } from "./placeholder";

export const inboxPage = placeholder("inbox", "Inbox", "Smart alerts and access notices");

// The Devices page (issue 15). Placeholder until built.
import { placeholder } from "./placeholder";

export const devicesPage = placeholder("devices", "Devices", "Device health");

/** A small valid rule file, and helpers to break it in one place at a time. */
export const VALID_RULE = `[metadata]
creation_date = "2026/01/12"
maturity = "production"
updated_date = "2026/01/13"

[rule]
author = ["execwarden"]
description = "Test rule."
from = "now-9m"
index = ["logs-endpoint.events.process*"]
language = "eql"
license = "Apache-2.0"
name = "Whoami from a web server"
risk_score = 47
rule_id = "0f3b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
severity = "medium"
type = "eql"
query = '''
process where event.type == "start" and event.action == "exec" and
  process.name == "whoami" and process.parent.name in ("nginx", "apache2")
'''

[[rule.threat]]
framework = "MITRE ATT&CK"

[[rule.threat.technique]]
id = "T1033"
name = "System Owner/User Discovery"
reference = "https://attack.mitre.org/techniques/T1033/"

[rule.threat.tactic]
id = "TA0007"
name = "Discovery"
reference = "https://attack.mitre.org/tactics/TA0007/"
`;

/** Replaces exactly one occurrence of `from` (throws when it is not there, so tests stay honest). */
export function edit(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`fixture edit: ${JSON.stringify(from)} must occur once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** 1-based line of the first line containing `needle` in `text`. */
export function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`fixture: ${needle} not found`);
  return index + 1;
}

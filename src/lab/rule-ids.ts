/**
 * The bundled rules whose alerts the lab expects, by rule_id. A test checks that every id a variant
 * names exists in rules/.
 */

/** "Potential Reverse Shell via Background Process" (execution_reverse_shell_via_background_process.toml): the seed rule. */
export const SEED_RULE_ID = '259be2d8-3b1a-4c2c-a0eb-0c8e77f35e39';
/** "Shell Redirecting to a /dev/tcp or /dev/udp Socket" (execution_shell_redirect_to_dev_tcp.toml). */
export const DEV_TCP_RULE_ID = '39a356fb-218c-4721-8503-d9887b537ca3';
/** "Shell or Interpreter with a Network Socket as Standard Input or Output" (execution_shell_with_network_socket_stdio.toml). */
export const SOCKET_STDIO_RULE_ID = '561f372e-58b9-48d5-98d3-36cc800eeac8';
/** "Shell Started by a Process Connected to a Network Socket" (execution_shell_spawned_by_socket_connected_parent.toml): pty wrappers. */
export const SOCKET_PARENT_RULE_ID = 'bcf90bd8-5d6c-447a-ab35-6290e224f275';
/** "Netcat or Socat Serving a Program over the Network" (execution_netcat_socat_shell_exec.toml). */
export const NETCAT_EXEC_RULE_ID = '620008dd-a112-48d1-b279-9ebdc59d8c1b';
/** "Scripting Interpreter One-Liner with Socket and Shell" (execution_interpreter_socket_one_liner.toml). */
export const INTERPRETER_SOCKET_RULE_ID = '214bbae7-86a6-47e1-abee-21e178650b4b';
/** "Built-in TCP Client in Awk or Zsh" (execution_builtin_tcp_client_in_shell_or_awk.toml). */
export const BUILTIN_TCP_RULE_ID = 'a13f9f5c-eb62-49dc-b951-dc02235b0888';
/** "Named Pipe Followed by a Network Tool" (execution_mkfifo_then_netcat.toml, a sequence). */
export const MKFIFO_NETWORK_RULE_ID = 'a70dac0d-5b03-4ded-b8bc-b6e473b356eb';
/** "Shell Command Line Looping a Shell through a Network Tool" (execution_fifo_shell_loop_through_network_tool.toml). */
export const FIFO_SHELL_LOOP_RULE_ID = '88142f6d-3e57-4a82-809b-43a5aa0ed5ab';

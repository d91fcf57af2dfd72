/**
 * The Pod Security Standards `restricted` profile, as the admission
 * controller checks a pod spec: kubernetes/pod-security-admission, policy/
 * (commit 8f84a87c), one rule per check_*.go file named below. Only what
 * can be read off a manifest: no user-namespace (hostUsers: false) exemptions,
 * no Windows pods.
 */

/** Inline volume sources allowed under `restricted` (check_restrictedVolumes.go). */
const ALLOWED_VOLUMES = new Set(['configMap', 'downwardAPI', 'emptyDir', 'projected', 'secret', 'csi', 'persistentVolumeClaim', 'ephemeral', 'image']);
const SECCOMP_OK = new Set(['RuntimeDefault', 'Localhost']);

// Manifests are parsed YAML: untyped on purpose.
type Pod = Record<string, any>;

/** Every way `pod` (a PodSpec) breaks `restricted`, each naming the field. */
export function restrictedViolations(pod: Pod): string[] {
  const problems: string[] = [];
  const podContext = pod.securityContext ?? {};
  const containers: [string, Record<string, any>][] = [
    ...(pod.containers ?? []).map((c: any) => [`containers[${c.name}]`, c] as [string, any]),
    ...(pod.initContainers ?? []).map((c: any) => [`initContainers[${c.name}]`, c] as [string, any]),
  ];

  for (const [key, flag] of [['hostNetwork', 'check_hostNamespaces'], ['hostPID', 'check_hostNamespaces'], ['hostIPC', 'check_hostNamespaces']] as const) {
    if (pod[key] === true) problems.push(`spec.${key}: must not be true (${flag})`);
  }
  for (const volume of pod.volumes ?? []) {
    const sources = Object.keys(volume).filter((k) => k !== 'name');
    for (const source of sources) if (!ALLOWED_VOLUMES.has(source)) problems.push(`spec.volumes[${volume.name}].${source}: not allowed (check_restrictedVolumes)`);
  }
  if (podContext.runAsUser === 0) problems.push('spec.securityContext.runAsUser: must not be 0 (check_runAsUser)');
  if (podContext.seccompProfile?.type !== undefined && !SECCOMP_OK.has(podContext.seccompProfile.type)) {
    problems.push(`spec.securityContext.seccompProfile.type: ${podContext.seccompProfile.type} (check_seccompProfile_restricted)`);
  }

  for (const [where, c] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.privileged === true) problems.push(`${where}.securityContext.privileged: must not be true (check_privileged)`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}.securityContext.allowPrivilegeEscalation: must be false (check_allowPrivilegeEscalation)`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}.securityContext.capabilities.drop: must include ALL (check_capabilities_restricted)`);
    for (const added of sc.capabilities?.add ?? []) if (added !== 'NET_BIND_SERVICE') problems.push(`${where}.securityContext.capabilities.add: ${added} (check_capabilities_restricted)`);
    // Container-level settings may be left unset when the pod-level one is right (check_runAsNonRoot, check_seccompProfile_restricted).
    const nonRoot = sc.runAsNonRoot ?? podContext.runAsNonRoot;
    if (nonRoot !== true) problems.push(`${where}.securityContext.runAsNonRoot: must be true here or on the pod (check_runAsNonRoot)`);
    if (sc.runAsUser === 0) problems.push(`${where}.securityContext.runAsUser: must not be 0 (check_runAsUser)`);
    const seccomp = sc.seccompProfile?.type ?? podContext.seccompProfile?.type;
    if (!SECCOMP_OK.has(seccomp)) problems.push(`${where}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost here or on the pod (check_seccompProfile_restricted)`);
    for (const port of c.ports ?? []) if (port.hostPort) problems.push(`${where}.ports.hostPort: not allowed (check_hostPorts)`);
  }
  return problems;
}

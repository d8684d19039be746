/** cgroup string index -> container identity, memoised; shared by analyze and diagnose. */
import type { Profile } from '../model/profile.ts';
import { type ContainerIdentity, containerOf } from './containers.ts';

export type NameResolver = (identity: ContainerIdentity) => ContainerIdentity;

export class ContainerIndex {
  /** Indexed by the cgroup's string index (a dense array: one slot per string). */
  private readonly byCgroup: (ContainerIdentity | undefined)[] = [];
  constructor(
    private readonly profile: Profile,
    private readonly nameOf: NameResolver = (i) => i,
  ) {}

  /** Identity of the container a sample's cgroup (a string index) belongs to. */
  of(cgroup: number): ContainerIdentity {
    let id = this.byCgroup[cgroup];
    if (id === undefined) {
      id = this.nameOf(containerOf(this.profile.strings[cgroup]));
      this.byCgroup[cgroup] = id;
    }
    return id;
  }
}

/** The host root and unknown cgroups are not containers: they cannot be an antagonist. */
export function isContainer(identity: ContainerIdentity): boolean {
  return identity.runtime !== 'host' && identity.runtime !== 'unknown';
}

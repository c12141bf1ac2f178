/** Buttons shared by groups and resources: online and offline, maintenance on and off, each asking first. */
import { act, type Report } from './actions.ts'

export function maintenanceButton(
  what: string,
  on: boolean,
  run: (on: boolean) => Promise<unknown>,
  report: Report,
) {
  return (
    <button
      type="button"
      onClick={() =>
        act(`${on ? 'end maintenance of' : 'put in maintenance'} ${what}?`, () => run(!on), report)
      }
    >
      {on ? 'end maintenance' : 'maintenance'}
    </button>
  )
}

/** Online and offline for a group or a resource (`what`: "group web"). */
export function targetButtons(
  what: string,
  run: (target: 'online' | 'offline') => Promise<unknown>,
  report: Report,
) {
  return [
    <button
      type="button"
      key="online"
      onClick={() => act(`bring ${what} online?`, () => run('online'), report)}
    >
      online
    </button>,
    <button
      type="button"
      key="offline"
      onClick={() => act(`take ${what} offline?`, () => run('offline'), report)}
    >
      offline
    </button>,
  ]
}

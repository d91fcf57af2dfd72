// Follows a running verification without reloading the page: polls the
// fragment named by <body data-live>, swaps it into #live when it changed,
// and stops once the fragment says the run is done. Without this script the
// page is still complete; a reload shows the current state.
const INTERVAL_MS = 2000;

const url = document.body.dataset.live;
let last = '';

async function poll() {
  const region = document.getElementById('live');
  if (!url || !region) return;
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
  } catch {
    setTimeout(poll, INTERVAL_MS); // the service restarting, or the network: try again
    return;
  }
  // Signed out, or the record is gone: a reload says which better than this script can.
  if (response.status >= 400 && response.status < 500) return;
  if (!response.ok) {
    setTimeout(poll, INTERVAL_MS);
    return;
  }
  const text = await response.text();
  const fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('live');
  if (!fresh) return;
  // Only a change is swapped in, so a screen reader hears each update once.
  if (fresh.innerHTML !== last) {
    last = fresh.innerHTML;
    region.innerHTML = fresh.innerHTML;
    region.dataset.status = fresh.dataset.status ?? '';
  }
  if (fresh.dataset.status === 'done') {
    // The page title still says RUNNING: the verdict banner now says what it is.
    const word = fresh.querySelector('.verdict')?.textContent?.replace(/^\W+/, '').trim();
    if (word) document.title = document.title.replace(/^(RUNNING|QUEUED)/, () => word);
    return;
  }
  setTimeout(poll, INTERVAL_MS);
}

if (url) setTimeout(poll, INTERVAL_MS);

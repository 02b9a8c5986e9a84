/**
 * Demo data for a fresh database: the demo sign-ins of API.md, a second host,
 * two more travellers, listings in several cities, and stays on them (the demo
 * guest's upcoming and past stays, some of other demo users, a couple of
 * blocked nights), reviews of other users' past stays with some hosts' replies,
 * all dated relative to the seeding day; optionally many generated listings for
 * benchmarks. Only ever called when asked (first embedded start in server.ts,
 * `npm run db:seed`).
 *
 * It lives with the app's wiring, not in db/, because it prices stays and hashes
 * passwords by the API's own rules (handlers/bookings/rules.ts,
 * server/passwords.ts), and db/ depends on nothing above it; its rows are
 * written by db/ query functions like every other row.
 */
import { blockNights, insertPendingBooking, insertRequestedBooking, insertSettledBooking } from '../db/bookings.js';
import { insertConversationHistory } from '../db/conversations.js';
import type { Db, Tx } from '../db/index.js';
import { insertPayment } from '../db/payments.js';
import { countPropertiesOfHost, insertProperties, type NewProperty } from '../db/properties.js';
import { insertReviewRecord } from '../db/reviews.js';
import { findUserByEmail, insertUser, insertUsers } from '../db/users.js';
import { priceStay } from '../handlers/bookings/rules.js';
import type { Config } from './config.js';
import { addDays, nightsOf, utcToday } from './dates.js';
import { hashPassword, type PasswordHashProfile } from './passwords.js';
import { createHash } from 'node:crypto';

/**
 * A stable id for a demo row, the same on every seeding (a name-based UUID,
 * version 5 layout), so that the spec's examples can name demo users,
 * listings, stays, payments and reviews and work as pre-filled in /docs.
 */
export function demoId(name: string): string {
  const hex = createHash('sha1').update(`staybook-demo:${name}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export const DEMO_PASSWORD = 'demo-password';

export const DEMO_USERS = [
  { email: 'host@example.com', role: 'host', name: 'Hana Host', bio: 'Lisbon local, hosting since 2015.' },
  { email: 'guest@example.com', role: 'guest', name: 'Gabriel Guest', bio: null },
  { email: 'admin@example.com', role: 'admin', name: 'Ada Admin', bio: null },
  { email: 'host2@example.com', role: 'host', name: 'Hugo Host', bio: 'Apartments in Paris, Berlin and Kyoto.' },
  { email: 'greta@example.com', role: 'guest', name: 'Greta Lindqvist', bio: 'Long weekends with a camera.' },
  { email: 'omar@example.com', role: 'guest', name: 'Omar Haddad', bio: null },
] as const;

/** Owner of the generated benchmark listings, so they can be counted and topped up. */
const BENCH_HOST = { email: 'bench-host@example.com', role: 'host', name: 'Bench Host', bio: null } as const;

export interface SeedOptions {
  /** Make sure this many generated listings exist (for benchmarks). */
  extraProperties?: number;
  /** The deployment's service fee and hold, which the demo stays are priced and held with, as the API would. */
  bookings: Pick<Config, 'serviceFeeBasisPoints' | 'bookingHoldSeconds'> & Partial<Pick<Config, 'requestExpiryHours'>>;
  /** The cost of the demo password's hash (Config.passwordHashProfile); standard unless given. */
  passwordHashProfile?: PasswordHashProfile;
}

export interface SeedResult {
  /** Whether the demo users and listings were inserted by this call. */
  created: boolean;
  /** How many generated listings this call added. */
  extraPropertiesCreated: number;
}

/**
 * Inserts the demo data in one transaction. Idempotent: when host@example.com
 * exists the demo data is left alone ({ created: false }). Generated listings
 * are topped up to `extraProperties`, with the same deterministic data each time.
 */
export async function seedDemoData(db: Db, options: SeedOptions): Promise<SeedResult> {
  const wanted = options.extraProperties ?? 0;
  if (!Number.isSafeInteger(wanted) || wanted < 0) {
    throw new Error(`extraProperties must be a non-negative integer, got ${wanted}`);
  }
  // Hash before the transaction: argon2 is deliberately slow.
  const passwordHash = await hashPassword(DEMO_PASSWORD, options.passwordHashProfile);

  return db.transaction().execute(async (trx) => {
    const created = (await findUserByEmail(trx, 'host@example.com')) === undefined;
    if (created) await insertDemoData(trx, passwordHash, options);
    const extraPropertiesCreated = wanted > 0 ? await topUpGeneratedProperties(trx, wanted, passwordHash) : 0;
    return { created, extraPropertiesCreated };
  });
}

async function insertDemoData(trx: Tx, passwordHash: string, options: SeedOptions): Promise<void> {
  const users = await insertUsers(trx, DEMO_USERS.map((user) => ({ ...user, id: demoId(`user:${user.email}`), password_hash: passwordHash })));
  const idOf = (email: string): string => {
    const user = users.find((row) => row.email === email);
    if (!user) throw new Error(`demo user ${email} was not inserted`);
    return user.id;
  };
  const hana = idOf('host@example.com');
  const hugo = idOf('host2@example.com');
  const now = Date.now();
  const listings = await insertProperties(
    trx,
    DEMO_PROPERTIES.map(({ host, ...listing }, index) => ({
      ...listing,
      id: demoId(`property:${listing.name}`),
      host_id: host === 'hana' ? hana : hugo,
      photos: photos(listing.name, 3),
      // Staggered, so "newest" has a visible order.
      created_at: new Date(now - (DEMO_PROPERTIES.length - index) * 86_400_000),
    })),
  );
  await insertDemoStays(trx, idOf, listings, options);
  await insertDemoRequests(trx, idOf, options);
  await insertDemoConversations(trx, idOf);
}

// Conversations ------------------------------------------------------------------

/**
 * The demo guest's thread with Hana about the Alfama apartment, linked to their
 * upcoming stay there: a question, the host's answer 35 minutes later (read),
 * and a later note from the host the guest has not read yet (one unread).
 */
async function insertDemoConversations(trx: Tx, idOf: (email: string) => string): Promise<void> {
  const listing = 'Sunlit Alfama apartment with river view';
  const guest = idOf('guest@example.com');
  const host = idOf('host@example.com');
  const id = demoId(`conversation:guest@example.com:${listing}`);
  const day = 86_400_000;
  const asked = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3 * day);
  const answered = new Date(asked.getTime() + 35 * 60_000);
  const note = new Date(asked.getTime() + 2 * day);
  await insertConversationHistory(trx, {
    conversation: {
      id,
      property_id: demoId(`property:${listing}`),
      guest_id: guest,
      host_id: host,
      booking_id: demoId(`booking:guest@example.com:${listing}:12`),
      created_at: asked,
    },
    participants: [
      { conversation_id: id, user_id: guest, role: 'guest', last_read_at: answered },
      { conversation_id: id, user_id: host, role: 'host', last_read_at: asked },
    ],
    messages: [
      { id: demoId('message:alfama:1'), conversation_id: id, sender_id: guest, body: 'Hi Hana! Is there a lift, and can we leave our bags before check-in?', created_at: asked },
      { id: demoId('message:alfama:2'), conversation_id: id, sender_id: host, body: 'Hello! No lift, I am afraid: three floors of stairs. Bags are fine from 10:00.', created_at: answered },
      { id: demoId('message:alfama:3'), conversation_id: id, sender_id: host, body: 'The 28 tram stops at the door; the key box code comes the day before you arrive.', created_at: note },
    ],
  });
}

type DemoProperty = Omit<NewProperty, 'host_id' | 'photos'> & { host: 'hana' | 'hugo' };

const DEMO_PROPERTIES: DemoProperty[] = [
  {
    host: 'hana',
    name: 'Sunlit Alfama apartment with river view',
    description: 'Two bedrooms on the top floor of a tiled 19th-century building, a balcony over the Tagus and the 28 tram at the door.',
    city: 'Lisbon', country: 'PT', latitude: 38.7114, longitude: -9.13,
    price_per_night: 9500, currency: 'EUR', cleaning_fee: 3000, max_guests: 4, bedrooms: 2,
    amenities: ['wifi', 'kitchen', 'washer', 'heating', 'workspace'],
    cancellation_policy: 'moderate', min_nights: 2, max_nights: 30,
  },
  {
    host: 'hana',
    name: 'Príncipe Real loft',
    description: 'An open-plan loft with high ceilings near the Príncipe Real garden, bakeries and antique shops.',
    city: 'Lisbon', country: 'PT', latitude: 38.7166, longitude: -9.149,
    price_per_night: 14000, currency: 'EUR', cleaning_fee: 4000, max_guests: 2, bedrooms: 1,
    amenities: ['wifi', 'kitchen', 'air_conditioning', 'tv', 'elevator'],
    cancellation_policy: 'flexible', min_nights: 1,
  },
  {
    host: 'hana',
    name: 'Ribeira townhouse by the Douro',
    description: 'A narrow three-storey townhouse on the riverfront, a short walk from the Dom Luís I bridge and the port cellars.',
    city: 'Porto', country: 'PT', latitude: 41.1407, longitude: -8.613,
    price_per_night: 11000, currency: 'EUR', cleaning_fee: 3500, max_guests: 6, bedrooms: 3,
    amenities: ['wifi', 'kitchen', 'washer', 'dryer', 'heating', 'crib'],
    cancellation_policy: 'strict', min_nights: 3, max_nights: 60,
  },
  {
    host: 'hugo',
    name: 'Le Marais studio',
    description: 'A quiet courtyard studio in the Marais, close to the Place des Vosges and the Picasso museum.',
    city: 'Paris', country: 'FR', latitude: 48.8579, longitude: 2.359,
    price_per_night: 16500, currency: 'EUR', cleaning_fee: 5000, max_guests: 2, bedrooms: 0,
    amenities: ['wifi', 'kitchen', 'heating', 'tv'],
    cancellation_policy: 'moderate', min_nights: 2,
  },
  {
    host: 'hugo',
    name: 'Montmartre family flat',
    description: 'Three bedrooms below the Sacré-Cœur with a view over the rooftops, cot and high chair on request.',
    city: 'Paris', country: 'FR', latitude: 48.8867, longitude: 2.3431,
    price_per_night: 21000, currency: 'EUR', cleaning_fee: 6000, max_guests: 6, bedrooms: 3,
    amenities: ['wifi', 'kitchen', 'washer', 'dryer', 'heating', 'crib', 'elevator'],
    cancellation_policy: 'strict', min_nights: 3, max_nights: 28,
  },
  {
    host: 'hugo',
    name: 'Kreuzberg canal-side flat',
    description: 'Bright Altbau flat on the Landwehr canal with bikes to borrow, near the Markthalle Neun.',
    city: 'Berlin', country: 'DE', latitude: 52.496, longitude: 13.419,
    price_per_night: 8900, currency: 'EUR', cleaning_fee: 2500, max_guests: 3, bedrooms: 1,
    amenities: ['wifi', 'kitchen', 'washer', 'heating', 'workspace', 'pets_allowed'],
    cancellation_policy: 'flexible', min_nights: 2, max_nights: 90,
  },
  {
    host: 'hana',
    name: 'Gràcia terrace apartment',
    description: 'A sunny roof terrace in the village streets of Gràcia, ten minutes from the Sagrada Família.',
    city: 'Barcelona', country: 'ES', latitude: 41.4036, longitude: 2.156,
    price_per_night: 12500, currency: 'EUR', cleaning_fee: 4500, max_guests: 4, bedrooms: 2,
    amenities: ['wifi', 'kitchen', 'air_conditioning', 'washer', 'bbq_grill'],
    cancellation_policy: 'moderate', min_nights: 2,
  },
  {
    host: 'hana',
    name: 'Barceloneta beach studio',
    description: 'A compact studio one street back from the beach, with a rain shower and a breakfast bar.',
    city: 'Barcelona', country: 'ES', latitude: 41.3784, longitude: 2.1925,
    price_per_night: 9900, currency: 'EUR', cleaning_fee: 3000, max_guests: 2, bedrooms: 0,
    amenities: ['wifi', 'air_conditioning', 'beach_access', 'tv'],
    cancellation_policy: 'flexible', min_nights: 1, max_nights: 14,
  },
  {
    host: 'hana',
    name: 'West Village brownstone',
    description: 'The parlour floor of a classic brownstone on a tree-lined street, with a working fireplace.',
    city: 'New York', country: 'US', latitude: 40.7359, longitude: -74.0036,
    price_per_night: 32000, currency: 'USD', cleaning_fee: 12000, max_guests: 4, bedrooms: 2,
    amenities: ['wifi', 'kitchen', 'heating', 'air_conditioning', 'fireplace', 'workspace'],
    cancellation_policy: 'strict', min_nights: 3, max_nights: 30,
  },
  {
    host: 'hugo',
    name: 'Machiya townhouse in Higashiyama',
    description: 'A restored wooden machiya with tatami rooms and a small garden, walking distance to Kiyomizu-dera.',
    city: 'Kyoto', country: 'JP', latitude: 34.9985, longitude: 135.778,
    // JPY has no minor unit: 28000 is ¥28,000.
    price_per_night: 28000, currency: 'JPY', cleaning_fee: 5000, max_guests: 4, bedrooms: 2,
    amenities: ['wifi', 'kitchen', 'heating', 'air_conditioning', 'washer'],
    cancellation_policy: 'moderate', min_nights: 2,
  },
  {
    host: 'hugo',
    name: 'Notting Hill mews house',
    description: 'A cobbled-mews cottage off Portobello Road with a skylit kitchen and a private garage.',
    city: 'London', country: 'GB', latitude: 51.5139, longitude: -0.205,
    price_per_night: 24000, currency: 'GBP', cleaning_fee: 8000, max_guests: 5, bedrooms: 2,
    amenities: ['wifi', 'kitchen', 'washer', 'dryer', 'heating', 'parking', 'ev_charger'],
    cancellation_policy: 'strict', min_nights: 2, max_nights: 30,
  },
  {
    host: 'hana',
    name: 'Lakeside flat in Zurich',
    description: 'A calm two-room flat by the lake promenade in Seefeld, with a gym and sauna in the building.',
    city: 'Zurich', country: 'CH', latitude: 47.3553, longitude: 8.5502,
    price_per_night: 19000, currency: 'CHF', cleaning_fee: 6000, max_guests: 3, bedrooms: 1,
    amenities: ['wifi', 'kitchen', 'heating', 'gym', 'elevator', 'wheelchair_accessible'],
    cancellation_policy: 'moderate', min_nights: 2,
  },
];

// Demo stays --------------------------------------------------------------------

type DemoUser = (typeof DEMO_USERS)[number]['email'];

interface DemoStay {
  guest: DemoUser;
  /** The name of one of DEMO_PROPERTIES. */
  listing: string;
  /** Days from the seeding day (UTC); negative is in the past. */
  checkIn: number;
  nights: number;
  /**
   * `pending` holds its dates for the configured hold time from seeding;
   * `confirmed` is paid and upcoming; `completed` ended before the seeding day.
   */
  status: 'pending' | 'confirmed' | 'completed';
  guests: number;
  /** A completed stay's review, written the day after check-out, and the host's reply the day after that. */
  review?: { rating: number; comment: string; reply?: string };
}

/**
 * The demo guest's trips: upcoming paid stays under each cancellation policy
 * (so a cancellation shows each kind of refund), one stay waiting for payment,
 * and finished stays on several listings, not yet reviewed: three that checked
 * out within the default 14-day review window (two on Hana's listings, so her
 * reply can follow) and one whose window has closed. Other demo users travel
 * too, so hosts see bookings by more than one guest, and their past stays
 * carry the reviews and replies listings show. No two stays on one listing
 * overlap (the exclusion constraint would refuse the upcoming ones) and none
 * includes a blocked night.
 */
const DEMO_STAYS: DemoStay[] = [
  { guest: 'guest@example.com', listing: 'Sunlit Alfama apartment with river view', checkIn: 12, nights: 3, status: 'confirmed', guests: 2 },
  { guest: 'guest@example.com', listing: 'Kreuzberg canal-side flat', checkIn: 25, nights: 4, status: 'confirmed', guests: 2 },
  { guest: 'guest@example.com', listing: 'Montmartre family flat', checkIn: 40, nights: 3, status: 'confirmed', guests: 4 },
  { guest: 'guest@example.com', listing: 'Príncipe Real loft', checkIn: 20, nights: 2, status: 'pending', guests: 2 },
  { guest: 'guest@example.com', listing: 'Ribeira townhouse by the Douro', checkIn: -45, nights: 4, status: 'completed', guests: 3 },
  { guest: 'guest@example.com', listing: 'Le Marais studio', checkIn: -12, nights: 3, status: 'completed', guests: 2 },
  { guest: 'guest@example.com', listing: 'Barceloneta beach studio', checkIn: -8, nights: 3, status: 'completed', guests: 1 },
  { guest: 'guest@example.com', listing: 'Gràcia terrace apartment', checkIn: -14, nights: 3, status: 'completed', guests: 2 },
  { guest: 'host2@example.com', listing: 'Lakeside flat in Zurich', checkIn: 18, nights: 3, status: 'confirmed', guests: 2 },
  { guest: 'host2@example.com', listing: 'Gràcia terrace apartment', checkIn: 7, nights: 3, status: 'confirmed', guests: 3 },
  {
    guest: 'host@example.com', listing: 'Machiya townhouse in Higashiyama', checkIn: -30, nights: 3, status: 'completed', guests: 2,
    review: { rating: 5, comment: 'Waking up to the garden was the best part of our trip. Quiet, spotless, and the futons were comfier than they look.', reply: 'Thank you, Hana! Come back for the autumn leaves.' },
  },
  {
    guest: 'greta@example.com', listing: 'Sunlit Alfama apartment with river view', checkIn: -70, nights: 4, status: 'completed', guests: 2,
    review: { rating: 5, comment: 'The light in the morning and the view over the river are as good as the photos. Steep stairs, but worth every step.', reply: 'Obrigada, Greta! The stairs keep us all fit.' },
  },
  {
    guest: 'omar@example.com', listing: 'Sunlit Alfama apartment with river view', checkIn: -40, nights: 3, status: 'completed', guests: 3,
    review: { rating: 4, comment: 'Great location and a well-equipped kitchen. The tram is loud early in the morning.' },
  },
  {
    guest: 'host2@example.com', listing: 'Príncipe Real loft', checkIn: -55, nights: 2, status: 'completed', guests: 1,
    review: { rating: 5, comment: 'A calm loft with excellent coffee shops nearby. Check-in was effortless.', reply: 'Thanks Hugo, any time.' },
  },
  {
    guest: 'greta@example.com', listing: 'Le Marais studio', checkIn: -100, nights: 3, status: 'completed', guests: 2,
    review: { rating: 4, comment: 'Small but clever, and the courtyard keeps it quiet. Perfect for a city break.', reply: 'Merci Greta, glad you enjoyed the quiet.' },
  },
  {
    guest: 'omar@example.com', listing: 'Le Marais studio', checkIn: -30, nights: 2, status: 'completed', guests: 1,
    review: { rating: 3, comment: 'Good location, but the shower barely had any pressure.', reply: 'Sorry about that, Omar. A plumber has replaced the mixer since.' },
  },
  {
    // Checked out two days before seeding: a review still in its window, which the spec's updateReview example edits.
    guest: 'greta@example.com', listing: 'Barceloneta beach studio', checkIn: -5, nights: 3, status: 'completed', guests: 1,
    review: { rating: 4, comment: 'One minute to the sand. Compact, but it has everything you need.' },
  },
  {
    guest: 'omar@example.com', listing: 'Kreuzberg canal-side flat', checkIn: -50, nights: 3, status: 'completed', guests: 2,
    review: { rating: 2, comment: 'Lovely canal, but the bedroom faces a bar that stays open until four.', reply: 'Thank you for telling us; we have fitted soundproof windows since your stay.' },
  },
  {
    guest: 'greta@example.com', listing: 'Ribeira townhouse by the Douro', checkIn: -120, nights: 4, status: 'completed', guests: 4,
    review: { rating: 5, comment: 'Three floors of character right on the river. Ideal for our family.' },
  },
];

/** Nights the host of the Alfama apartment took off the calendar, after the demo guest's stay there. */
const DEMO_BLOCKED = { listing: 'Sunlit Alfama apartment with river view', from: 30, nights: 2 };

/**
 * Inserts the demo stays, priced by the API's own rule (priceStay) at the
 * listing's rates, so that every row satisfies bookings_price_check and looks
 * like one the API made. Dates count from the UTC day of seeding.
 */
async function insertDemoStays(
  trx: Tx,
  idOf: (email: string) => string,
  listings: { id: string; name: string; price_per_night: number; cleaning_fee: number; currency: string }[],
  options: SeedOptions,
): Promise<void> {
  const { serviceFeeBasisPoints, bookingHoldSeconds: holdSeconds } = options.bookings;
  const listingNamed = (name: string) => {
    const listing = listings.find((row) => row.name === name);
    if (!listing) throw new Error(`demo listing ${name} was not inserted`);
    return listing;
  };
  const today = utcToday();
  for (const stay of DEMO_STAYS) {
    const listing = listingNamed(stay.listing);
    const checkIn = addDays(today, stay.checkIn);
    const checkOut = addDays(checkIn, stay.nights);
    const row = {
      id: demoId(`booking:${stay.guest}:${stay.listing}:${stay.checkIn}`),
      property_id: listing.id,
      guest_id: idOf(stay.guest),
      check_in: checkIn,
      check_out: checkOut,
      guests: stay.guests,
      // The breakdown's fields are the booking's price columns, name for name.
      ...priceStay(listing, stay.nights, serviceFeeBasisPoints),
    };
    if (stay.status === 'pending') {
      await insertPendingBooking(trx, row, holdSeconds);
      continue;
    }
    // An upcoming stay was paid just now; a finished one a week before its check-in. Booked an hour before paying.
    const paidAt = stay.checkIn > 0 ? new Date() : new Date(`${addDays(checkIn, -7)}T12:00:00Z`);
    const booking = await insertSettledBooking(trx, { ...row, status: stay.status, confirmed_at: paidAt, created_at: new Date(paidAt.getTime() - 3_600_000) });
    // Paid with Stripe's test card through the local provider, so that cancelling it refunds.
    await insertPayment(trx, {
      id: demoId(`payment:${booking.id}`),
      booking_id: booking.id,
      payer_id: booking.guest_id,
      amount: booking.total,
      currency: booking.currency,
      status: 'succeeded',
      payment_method: 'pm_card_visa',
      provider: 'local',
      provider_reference: `pi_local_demo_${booking.id.replaceAll('-', '')}`,
      provider_idempotency_key: `seed-${booking.id}`,
      created_at: paidAt,
      succeeded_at: paidAt,
    });
    if (stay.review) await insertDemoReview(trx, booking, stay.review);
  }
  const blocked = listingNamed(DEMO_BLOCKED.listing);
  const from = addDays(today, DEMO_BLOCKED.from);
  await blockNights(trx, blocked.id, nightsOf(from, addDays(from, DEMO_BLOCKED.nights)));
}

/**
 * A review as its guest would have written it the day after check-out, and the
 * host's reply the day after. The trigger on reviews adds it to the listing's
 * rating_sum and review_count, as it does for every review.
 */
async function insertDemoReview(
  trx: Tx,
  booking: { id: string; property_id: string; guest_id: string; check_out: string },
  review: NonNullable<DemoStay['review']>,
): Promise<void> {
  const writtenAt = new Date(`${addDays(booking.check_out, 1)}T10:00:00Z`);
  const repliedAt = review.reply === undefined ? null : new Date(`${addDays(booking.check_out, 2)}T09:00:00Z`);
  await insertReviewRecord(trx, {
    id: demoId(`review:${booking.id}`),
    booking_id: booking.id,
    property_id: booking.property_id,
    author_id: booking.guest_id,
    rating: review.rating,
    comment: review.comment,
    host_reply: review.reply ?? null,
    host_replied_at: repliedAt,
    host_reply_updated_at: repliedAt,
    created_at: writtenAt,
    updated_at: repliedAt ?? writtenAt,
  });
}

function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function photos(name: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `https://images.example.com/properties/${slug(name)}/${i + 1}.jpg`);
}

// Generated listings ----------------------------------------------------------

const BATCH_SIZE = 500;

const CITIES = [
  { city: 'Lisbon', country: 'PT', latitude: 38.7223, longitude: -9.1393, currency: 'EUR', scale: 1 },
  { city: 'Porto', country: 'PT', latitude: 41.1579, longitude: -8.6291, currency: 'EUR', scale: 1 },
  { city: 'Paris', country: 'FR', latitude: 48.8566, longitude: 2.3522, currency: 'EUR', scale: 1 },
  { city: 'Berlin', country: 'DE', latitude: 52.52, longitude: 13.405, currency: 'EUR', scale: 1 },
  { city: 'Barcelona', country: 'ES', latitude: 41.3874, longitude: 2.1686, currency: 'EUR', scale: 1 },
  { city: 'London', country: 'GB', latitude: 51.5072, longitude: -0.1276, currency: 'GBP', scale: 1 },
  { city: 'New York', country: 'US', latitude: 40.7128, longitude: -74.006, currency: 'USD', scale: 1 },
  { city: 'Toronto', country: 'CA', latitude: 43.6532, longitude: -79.3832, currency: 'CAD', scale: 1 },
  { city: 'Sydney', country: 'AU', latitude: -33.8688, longitude: 151.2093, currency: 'AUD', scale: 1 },
  { city: 'Kyoto', country: 'JP', latitude: 35.0116, longitude: 135.7681, currency: 'JPY', scale: 1.5 },
  { city: 'Stockholm', country: 'SE', latitude: 59.3293, longitude: 18.0686, currency: 'SEK', scale: 10 },
  { city: 'Copenhagen', country: 'DK', latitude: 55.6761, longitude: 12.5683, currency: 'DKK', scale: 7 },
] as const;

const AMENITIES = [
  'wifi', 'kitchen', 'washer', 'dryer', 'air_conditioning', 'heating', 'tv', 'parking', 'pool', 'hot_tub',
  'gym', 'workspace', 'fireplace', 'pets_allowed', 'wheelchair_accessible', 'elevator', 'bbq_grill',
  'beach_access', 'ev_charger', 'crib',
] as const;

const KINDS = ['studio', 'apartment', 'loft', 'townhouse', 'flat', 'cottage', 'penthouse'] as const;
const ADJECTIVES = ['Bright', 'Quiet', 'Cosy', 'Spacious', 'Modern', 'Historic', 'Sunny', 'Charming'] as const;
const POLICIES = ['flexible', 'moderate', 'strict'] as const;

/** mulberry32: a tiny seeded PRNG, so listing i is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

function generatedProperty(index: number, hostId: string): NewProperty {
  const rand = random(index + 1);
  const place = pick(rand, CITIES);
  const kind = pick(rand, KINDS);
  const bedrooms = kind === 'studio' ? 0 : 1 + Math.floor(rand() * 4);
  const minNights = 1 + Math.floor(rand() * 3);
  const amenities = AMENITIES.filter((amenity) => amenity === 'wifi' || rand() < 0.3);
  const name = `${pick(rand, ADJECTIVES)} ${kind} in ${place.city} #${index + 1}`;
  return {
    host_id: hostId,
    name,
    description: `A ${kind} with ${bedrooms === 0 ? 'an open-plan room' : `${bedrooms} bedroom${bedrooms > 1 ? 's' : ''}`} in ${place.city}. Generated for benchmarks.`,
    city: place.city,
    country: place.country,
    // Within roughly 10 km of the centre.
    latitude: Math.round((place.latitude + (rand() - 0.5) * 0.18) * 1e6) / 1e6,
    longitude: Math.round((place.longitude + (rand() - 0.5) * 0.24) * 1e6) / 1e6,
    price_per_night: Math.round((5000 + rand() * 30000) * place.scale / 100) * 100,
    currency: place.currency,
    cleaning_fee: Math.round(rand() * 80) * 100,
    max_guests: Math.max(1, bedrooms * 2 + Math.floor(rand() * 2)),
    bedrooms,
    amenities,
    photos: photos(name, 1 + Math.floor(rand() * 4)),
    cancellation_policy: pick(rand, POLICIES),
    min_nights: minNights,
    max_nights: minNights + 29 + Math.floor(rand() * 60),
    created_at: new Date(Date.UTC(2025, 0, 1) + index * 60_000),
  };
}

async function topUpGeneratedProperties(trx: Tx, wanted: number, passwordHash: string): Promise<number> {
  const host = (await findUserByEmail(trx, BENCH_HOST.email)) ?? (await insertUser(trx, { ...BENCH_HOST, password_hash: passwordHash }));
  const count = await countPropertiesOfHost(trx, host.id);
  for (let start = count; start < wanted; start += BATCH_SIZE) {
    const end = Math.min(start + BATCH_SIZE, wanted);
    await insertProperties(trx, Array.from({ length: end - start }, (_, i) => generatedProperty(start + i, host.id)));
  }
  return Math.max(0, wanted - count);
}

// Request-to-book --------------------------------------------------------------------

/**
 * A listing of Hana's that is not instant-bookable, with two requests of the demo
 * guest waiting for her answer (dates counted from the seeding day): the spec's
 * acceptBooking example accepts the first and its declineBooking example declines
 * the second, so both work on one fresh demo server. Requests wait
 * REQUEST_EXPIRY_HOURS from seeding, as the API's would.
 */
const DEMO_REQUEST_LISTING: Omit<NewProperty, 'host_id' | 'photos'> = {
  name: 'Quinta cottage near Sintra',
  description: 'A stone cottage in the garden of an old quinta below the Pena palace: a wood stove, a vegetable patch and the forest trails at the gate. Hana answers each request herself.',
  city: 'Sintra', country: 'PT', latitude: 38.7929, longitude: -9.3906,
  price_per_night: 13000, currency: 'EUR', cleaning_fee: 4500, max_guests: 4, bedrooms: 2,
  amenities: ['wifi', 'kitchen', 'heating', 'parking', 'fireplace'],
  cancellation_policy: 'moderate', min_nights: 2, max_nights: 21, instant_book: false,
};
const DEMO_REQUESTS = [
  { guest: 'guest@example.com', checkIn: 30, nights: 3, guests: 2 },
  { guest: 'guest@example.com', checkIn: 60, nights: 2, guests: 2 },
] as const;

async function insertDemoRequests(trx: Tx, idOf: (email: string) => string, options: SeedOptions): Promise<void> {
  const [listing] = await insertProperties(trx, [
    { ...DEMO_REQUEST_LISTING, id: demoId(`property:${DEMO_REQUEST_LISTING.name}`), host_id: idOf('host@example.com'), photos: photos(DEMO_REQUEST_LISTING.name, 3) },
  ]);
  if (!listing) throw new Error('the demo request listing was not inserted');
  const today = utcToday();
  for (const request of DEMO_REQUESTS) {
    const checkIn = addDays(today, request.checkIn);
    await insertRequestedBooking(
      trx,
      {
        id: demoId(`booking:${request.guest}:${listing.name}:${request.checkIn}`),
        property_id: listing.id,
        guest_id: idOf(request.guest),
        check_in: checkIn,
        check_out: addDays(checkIn, request.nights),
        guests: request.guests,
        ...priceStay(listing, request.nights, options.bookings.serviceFeeBasisPoints),
      },
      (options.bookings.requestExpiryHours ?? 24) * 3600,
    );
  }
}

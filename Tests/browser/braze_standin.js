// A stand-in for the Braze Web SDK, served by the test storefront at the shop's configured sdk_url
// (the real SDK is not reachable here). It implements the documented signatures of the calls the
// loader makes and records each in window.__brazeCalls. Like the real SDK it writes a cookie and
// localStorage when initialised, so "nothing before consent" is observable.
(function () {
  var calls = (window.__brazeCalls = []);
  var failureSubscribers = [];
  var currentUser = null;
  function record(name, args) {
    calls.push({ name: name, args: JSON.parse(JSON.stringify(Array.prototype.slice.call(args))) });
  }
  window.braze = {
    // initialize(apiKey: string, options?: {baseUrl: string, enableSdkAuthentication?: boolean, ...}): boolean
    initialize: function (apiKey, options) {
      record('initialize', arguments);
      if (typeof apiKey !== 'string' || !apiKey || !options || typeof options.baseUrl !== 'string') return false;
      document.cookie = 'ab.storage.deviceId.' + apiKey + '=standin-device;path=/';
      localStorage.setItem('ab.storage.device.' + apiKey, 'standin');
      return true;
    },
    // changeUser(userId: string, sdkAuthSignature?: string): void
    changeUser: function (userId, signature) {
      record('changeUser', arguments);
      currentUser = userId;
    },
    // setSdkAuthenticationSignature(signature: string): boolean
    setSdkAuthenticationSignature: function (signature) {
      record('setSdkAuthenticationSignature', arguments);
      return typeof signature === 'string' && signature.length > 0;
    },
    // openSession(): void
    openSession: function () {
      record('openSession', arguments);
    },
    // automaticallyShowInAppMessages(): void
    automaticallyShowInAppMessages: function () {
      record('automaticallyShowInAppMessages', arguments);
    },
    // subscribeToSdkAuthenticationFailures(subscriber: (error: SDKAuthenticationError) => void): string | undefined
    subscribeToSdkAuthenticationFailures: function (subscriber) {
      record('subscribeToSdkAuthenticationFailures', [typeof subscriber]);
      failureSubscribers.push(subscriber);
      return 'standin-subscription';
    },
    // requestContentCardsRefresh(): void
    requestContentCardsRefresh: function () {
      record('requestContentCardsRefresh', arguments);
    },
    // wipeData(): void
    wipeData: function () {
      record('wipeData', arguments);
    },
    // getUser(): User, with addAlias(alias: string, label: string): boolean
    getUser: function () {
      return {
        getUserId: function (callback) {
          if (callback) callback(currentUser);
          return currentUser;
        },
        addAlias: function (alias, label) {
          record('addAlias', arguments);
          return true;
        }
      };
    }
  };
  // Test hook: Braze refuses the current signature (an SDKAuthenticationError, as the real SDK reports it).
  window.__brazeRefuseSignature = function () {
    failureSubscribers.forEach(function (subscriber) {
      subscriber({ errorCode: 21, reason: 'EXPIRED', userId: currentUser, signature: 'expired' });
    });
  };
})();

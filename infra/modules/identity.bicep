// The app's one user-assigned managed identity: the Functions host (task hub, image pull), the vault, Key Vault and
// ARM all see this principal, so every grant below names it and nothing else. User-assigned, not system-assigned,
// so role assignments can exist before the app does and survive re-creating it.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
